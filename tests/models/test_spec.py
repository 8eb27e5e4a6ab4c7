"""Workload specs: validation, registry, and per-layer values written out by hand."""

from __future__ import annotations

import pytest

from colsim.errors import ColsimError
from colsim.models.registry import get_workload, workload_names, workload_spec
from colsim.models.spec import FfnLayer, WorkloadSpec

DESIGN_NAMES = ["dit-xl-2", "sd-v1.4", "videocrafter2", "make-an-audio", "mdm", "mld", "edge"]

# DESIGN.md §1 table: L, N range, expansion, gated.
DESIGN_TABLE = {
    "dit-xl-2": (28, (4608, 4608), 4, False),
    "sd-v1.4": (16, (1280, 5120), 4, True),
    "videocrafter2": (33, (1280, 5120), 4, True),
    "make-an-audio": (11, (1280, 2560), 4, True),
    "mdm": (8, (1024, 1024), 2, False),
    "mld": (9, (1024, 1024), 4, False),
    "edge": (10, (1024, 1024), 2, False),
}


def test_registry_names_cover_the_design_and_tiny_models() -> None:
    assert workload_names() == [*DESIGN_NAMES, "tiny-dit", "tiny-motion"]


def test_unknown_workload_lists_known_names() -> None:
    with pytest.raises(ColsimError, match=r"unknown model 'sd-v9' \(known models: dit-xl-2, "):
        get_workload("sd-v9")


def test_unknown_size_is_rejected() -> None:
    with pytest.raises(ColsimError, match="`size` must be one of 'tiny', 'full', not 'huge'"):
        workload_spec("mdm", "huge")


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_specs_match_the_design_table(name: str) -> None:
    layers_count, (low, high), expansion, gated = DESIGN_TABLE[name]
    spec = get_workload(name)
    assert len(spec.layers) == layers_count
    assert min(layer.hidden for layer in spec.layers) == low
    assert max(layer.hidden for layer in spec.layers) == high
    assert all(layer.gated is gated for layer in spec.layers)
    # VideoCrafter2's transformer_in has its own width (512); every other layer: N = exp·d.
    assert all(layer.hidden == expansion * layer.d_model for layer in spec.layers)
    assert spec.source


def test_dit_xl_2_layers() -> None:
    spec = get_workload("dit-xl-2")
    expected = [
        FfnLayer(f"transformer_blocks.{i}.ff.net.0", 256, 1152, 4608, False) for i in range(28)
    ]
    assert list(spec.layers) == expected


def test_sd_v14_layers_written_out() -> None:
    spec = get_workload("sd-v1.4")
    ff = ".transformer_blocks.0.ff.net.0"
    expected = [
        ("down_blocks.0.attentions.0", 4096, 320), ("down_blocks.0.attentions.1", 4096, 320),
        ("down_blocks.1.attentions.0", 1024, 640), ("down_blocks.1.attentions.1", 1024, 640),
        ("down_blocks.2.attentions.0", 256, 1280), ("down_blocks.2.attentions.1", 256, 1280),
        ("mid_block.attentions.0", 64, 1280),
        ("up_blocks.1.attentions.0", 256, 1280), ("up_blocks.1.attentions.1", 256, 1280),
        ("up_blocks.1.attentions.2", 256, 1280),
        ("up_blocks.2.attentions.0", 1024, 640), ("up_blocks.2.attentions.1", 1024, 640),
        ("up_blocks.2.attentions.2", 1024, 640),
        ("up_blocks.3.attentions.0", 4096, 320), ("up_blocks.3.attentions.1", 4096, 320),
        ("up_blocks.3.attentions.2", 4096, 320),
    ]
    assert list(spec.layers) == [
        FfnLayer(prefix + ff, m, d, 4 * d, True) for prefix, m, d in expected
    ]


def test_videocrafter2_tokens_and_order() -> None:
    spec = get_workload("videocrafter2")
    first = spec.layers[0]
    assert (first.name, first.tokens, first.d_model, first.hidden) == (
        "transformer_in.transformer_blocks.0.ff.net.0", 16 * 40 * 64, 512, 2048)
    # Spatial then temporal transformer at every position.
    assert spec.layers[1].name.startswith("down_blocks.0.attentions.0.")
    assert spec.layers[2].name.startswith("down_blocks.0.temp_attentions.0.")
    tokens = {layer.tokens for layer in spec.layers}
    assert tokens == {16 * 40 * 64, 16 * 20 * 32, 16 * 10 * 16, 16 * 5 * 8}
    mid = [layer for layer in spec.layers if layer.name.startswith("mid_block")]
    assert [(m.tokens, m.d_model) for m in mid] == [(640, 1280), (640, 1280)]


def test_make_an_audio_tokens() -> None:
    spec = get_workload("make-an-audio")
    assert [layer.tokens for layer in spec.layers] == [780] * 2 + [195] * 6 + [780] * 3
    assert [layer.d_model for layer in spec.layers] == [320] * 2 + [640] * 6 + [320] * 3


def test_motion_tokens() -> None:
    assert {layer.tokens for layer in get_workload("mdm").layers} == {197}
    assert {layer.tokens for layer in get_workload("mld").layers} == {6}
    edge = get_workload("edge")
    assert edge.layer_names[:2] == ("music_encoder.0.ff.act", "music_encoder.1.ff.act")
    assert {layer.tokens for layer in edge.layers} == {150}


@pytest.mark.parametrize("name", workload_names())
def test_tiny_specs_keep_the_topology(name: str) -> None:
    full, tiny = workload_spec(name, "full"), workload_spec(name, "tiny")
    if name in ("dit-xl-2", "mdm", "mld", "edge"):  # tiny versions of these are shallower
        assert len(tiny.layers) <= len(full.layers)
    else:
        assert tiny.layer_names == full.layer_names
    assert all(layer.gated == full.layers[0].gated for layer in tiny.layers)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tokens", 0, "`tokens` of FFN layer 'x' must be a positive integer, not 0"),
        ("hidden", -4, "`hidden` of FFN layer 'x' must be a positive integer, not -4"),
        ("d_model", 2.5, "`d_model` of FFN layer 'x' must be a positive integer, not 2.5"),
        ("repeat", True, "`repeat` of FFN layer 'x' must be a positive integer, not True"),
    ],
)
def test_ffn_layer_rejects_bad_dimensions(field: str, value: object, message: str) -> None:
    values = {"name": "x", "tokens": 4, "d_model": 8, "hidden": 16, "gated": False}
    values[field] = value
    with pytest.raises(ColsimError, match=message.replace("(", r"\(")):
        FfnLayer(**values)


def test_ffn_layer_work() -> None:
    gated = FfnLayer("g", tokens=3, d_model=5, hidden=7, gated=True, repeat=2)
    assert gated.w1_columns == 14
    assert gated.macs == 2 * (3 * 5 * 14 + 3 * 7 * 5)


def test_workload_spec_rejects_duplicates_and_empty() -> None:
    layer = FfnLayer("a", 1, 1, 1, False)
    with pytest.raises(ColsimError, match="repeats FFN layer name 'a'"):
        WorkloadSpec("w", "pure", "image", (layer, layer), "test")
    with pytest.raises(ColsimError, match="must have at least one FFN layer"):
        WorkloadSpec("w", "pure", "image", (), "test")
    spec = WorkloadSpec("w", "pure", "image", (layer,), "test")
    assert spec.layer("a") is layer
    with pytest.raises(ColsimError, match="workload 'w' has no FFN layer 'b'"):
        spec.layer("b")


# DESIGN.md §1 table (the study's Table 1): L, the set of M, N range — per operating point.
STUDY_TABLE = {
    "dit-xl-2": (28, {256}, (4608, 4608)),
    "sd-v1.4": (16, {4096, 1024, 256, 64}, (1280, 5120)),
    "videocrafter2": (33, {10240, 2560, 640, 192}, (1280, 5120)),
    "make-an-audio": (11, {800, 200}, (1280, 2560)),
    "mdm": (8, {242}, (1024, 1024)),
    "mld": (9, {6}, (1024, 1024)),
    "edge": (10, {3300}, (1024, 1024)),
}


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_study_operating_point_derives_table_1(name: str) -> None:
    layers_count, tokens, (low, high) = STUDY_TABLE[name]
    public, study = workload_spec(name, "full"), workload_spec(name, "full", "study")
    assert (public.operating_point, study.operating_point) == ("public", "study")
    assert len(study.layers) == layers_count
    assert {layer.tokens for layer in study.layers} == tokens
    assert (min(layer.hidden for layer in study.layers),
            max(layer.hidden for layer in study.layers)) == (low, high)
    # Same topology: names, widths and gating as public; only M may differ.
    assert study.layer_names == public.layer_names
    assert [(a.d_model, a.hidden, a.gated) for a in study.layers] == [
        (b.d_model, b.hidden, b.gated) for b in public.layers]
    assert study.source.startswith("study operating point - Table 1: ")


def test_study_tokens_per_layer_where_table_1_gives_a_range() -> None:
    vc2 = workload_spec("videocrafter2", "full", "study")
    assert vc2.layers[0].tokens == 16 * 20 * 32  # transformer_in at level 0
    assert [m.tokens for m in vc2.layers if m.name.startswith("mid_block")] == [192, 192]
    audio = workload_spec("make-an-audio", "full", "study")
    assert [layer.tokens for layer in audio.layers] == [800] * 2 + [200] * 6 + [800] * 3


@pytest.mark.parametrize(
    ("name", "size", "shapes", "message"),
    [
        ("mdm", "full", "paper", "`shapes` must be one of 'public', 'study', not 'paper'"),
        ("mdm", "tiny", "study", "`shapes` 'study' is an operating point of the full size"),
        ("tiny-dit", "full", "study", "workload 'tiny-dit' has no study operating point"),
    ],
)
def test_bad_operating_point_is_one_line(name: str, size: str, shapes: str,
                                         message: str) -> None:
    with pytest.raises(ColsimError, match=message):
        workload_spec(name, size, shapes)
