"""Registry behaviour and CLI error handling."""

import json
import subprocess
import sys

import pytest

from workbench.cli import main
from workbench.registry import Registry


def test_registry_register_get_list():
    r = Registry("widget")
    r.register("mobile_a", 1)

    @r.register("mobile_b")
    def b():
        return 2

    assert r.get("mobile_a") == 1 and r.get("mobile_b") is b
    assert r.list() == ["mobile_a", "mobile_b"] and r.list("*_b") == ["mobile_b"] and r.list("mob") == ["mobile_a", "mobile_b"]
    assert "mobile_a" in r and len(r) == 2
    with pytest.raises(ValueError, match="already registered"):
        r.register("mobile_a", 3)
    with pytest.raises(KeyError, match="did you mean: mobile_a"):
        r.get("mobile_aa")


def test_models_lists_and_filters(capsys):
    assert main(["models", "mobilenetv2*"]) == 0
    out = capsys.readouterr().out.split()
    assert "mobilenetv2_100" in out and all(n.startswith("mobilenetv2") for n in out)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["profile", "mobilenetv2_1000", "--no-latency"], "mobilenetv2_100"),
        (["profile", "mobilenetv2_100", "--width", "0", "--no-latency"], "--width must be > 0"),
        (["profile", "mobilenetv2_100", "--width", "-1.5", "--no-latency"], "--width must be > 0"),
        (["profile", "mobilenetv2_100", "--resolution", "0", "--no-latency"], "--resolution"),
        (["profile", "mobilenetv2_100", "--batch", "0", "--no-latency"], "--batch"),
        (["profile", "mobilenetv2_100", "--threads", "0", "--no-latency"], "--threads"),
        (["profile", "timm:not_a_model", "--no-latency"], "timm has no model"),
        (["profile", "onnx:foo", "--no-latency"], "timm:<name>"),
    ],
)
def test_profile_bad_input_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_profile_json_keys(capsys):
    assert main(["profile", "torchvision:mobilenet_v2", "--no-latency", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    required = {"name", "params", "macs", "macs_all_ops", "flops", "latency_ms", "latency_iqr_ms",
                "peak_activation_bytes", "pct_of_peak", "unsupported_ops", "env"}
    assert required <= set(d)
    assert d["params"] == 3_504_872 and abs(d["macs"] / 300.8e6 - 1) < 0.005
    assert d["flops"] == 2 * d["macs"] and d["unsupported_ops"] == {}


def test_profile_timm_reference_json(capsys):
    assert main(["profile", "timm:mobilenetv2_100", "--no-latency", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["params"] == 3_504_872 and abs(d["macs"] / 300.8e6 - 1) < 0.005 and d["unsupported_ops"] == {}


def test_cli_subprocess_no_traceback():
    p = subprocess.run([sys.executable, "-m", "workbench", "profile", "nope", "--no-latency"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "unknown model 'nope'" in p.stderr


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"in_chans": 0}, "in_chans must be >= 1, got 0"),
        ({"num_classes": 0}, "num_classes must be >= 1, got 0"),
        ({"width_mult": float("inf")}, "width_mult must be a finite number > 0, got inf"),
        ({"width_mult": float("nan")}, "width_mult must be a finite number > 0, got nan"),
        ({"width_mult": 0.0}, "width_mult must be a finite number > 0"),
    ],
)
def test_create_model_refuses_bad_arguments(kwargs, needle):
    import workbench as wb

    with pytest.raises(ValueError, match=needle.replace("(", r"\(")) as err:
        wb.create_model("mobilenetv2_050", **kwargs)
    assert "\n" not in str(err.value)


def test_torchvision_unknown_name_never_ends_in_empty_similar():
    import workbench as wb

    with pytest.raises(KeyError) as err:
        wb.create_model("torchvision:zzqqxx")
    msg = str(err.value)
    assert "similar: '" not in msg and not msg.rstrip("\"'").endswith(":") and "mobilenet_v2" in msg
    with pytest.raises(KeyError, match="similar: resnet18"):
        wb.create_model("torchvision:resnet19")


def test_models_by_tag_lists_channel_attention(capsys):
    assert main(["models", "--tag", "channel_attention"]) == 0
    out = capsys.readouterr().out.split()
    assert {"mobilenetv3_small_075", "ghostnet_100", "efficientnet_b0"} <= set(out)
    assert "mobilenetv2_100" not in out and "repvgg_a0" not in out


def test_models_unknown_tag_exit_2_names_valid_tags(capsys):
    assert main(["models", "--tag", "attention"]) == 2
    err = capsys.readouterr().err
    assert "unknown model tag 'attention'" in err and "channel_attention" in err
    assert len(err.strip().splitlines()) == 1
