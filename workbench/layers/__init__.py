"""Model-agnostic technique blocks. Blocks know nothing about models (timm ``layers`` habit).

One module per family; each module's docstring names the papers behind its blocks.
"""

from .activations import get_act, list_acts
from .attention import CBAM, EfficientChannelAttention, SqueezeExcite, get_attn
from .conv import ConvNormAct, make_divisible
from .convnext import ConvNeXtBlock, LayerNorm2d
from .efficientformer import Meta3D, Meta4D
from .efficientvit import CascadedGroupAttention, EfficientViTBlock
from .ghost import DFCAttention, GhostBottleneck, GhostModule, GhostModuleV2
from .metaformer import MetaFormerBlock, get_token_mixer, list_token_mixers
from .mobile import DepthwiseSeparableConv, FusedMBConv, InvertedResidual, SEConfig
from .reparam import MobileOneBlock, RepVggBlock, fuse_conv_bn, reparameterize_model
from .repvit import RepDWConv, RepViTBlock
from .shuffle import ShuffleV2Block, channel_shuffle

__all__ = [
    "CBAM",
    "CascadedGroupAttention",
    "ConvNeXtBlock",
    "ConvNormAct",
    "DFCAttention",
    "DepthwiseSeparableConv",
    "EfficientChannelAttention",
    "EfficientViTBlock",
    "FusedMBConv",
    "GhostBottleneck",
    "GhostModule",
    "GhostModuleV2",
    "InvertedResidual",
    "LayerNorm2d",
    "Meta3D",
    "Meta4D",
    "MetaFormerBlock",
    "MobileOneBlock",
    "RepDWConv",
    "RepVggBlock",
    "RepViTBlock",
    "SEConfig",
    "ShuffleV2Block",
    "SqueezeExcite",
    "channel_shuffle",
    "fuse_conv_bn",
    "get_act",
    "get_attn",
    "get_token_mixer",
    "list_acts",
    "list_token_mixers",
    "make_divisible",
    "reparameterize_model",
]
