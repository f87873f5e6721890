"""Model-agnostic technique blocks. Blocks know nothing about models (timm ``layers`` habit)."""

from .activations import get_act, list_acts
from .attention import EfficientChannelAttention, SqueezeExcite, get_attn
from .conv import ConvNormAct, make_divisible
