"""w2s.concept_map: the course map is consistent and covers every lesson."""

import re

import matplotlib

matplotlib.use("Agg")

from w2s.concept_map import BANDS, EDGES, NODES, draw_concept_map  # noqa: E402


def test_edges_connect_existing_nodes_and_every_node_is_connected():
    for src, dst, _ in EDGES:
        assert src in NODES and dst in NODES, (src, dst)
    connected = {n for src, dst, _ in EDGES for n in (src, dst)}
    assert connected == set(NODES), set(NODES) - connected


def test_every_lesson_and_core_concept_is_on_the_map():
    text = " ".join(t for t, *_ in NODES.values()) + " " + " ".join(b[1] for b in BANDS.values())
    lessons = set(re.findall(r"L0(\d)", text)) | set(re.findall(r"lessons? 0(\d)", text))
    lessons |= {str(i) for a, b in re.findall(r"lessons 0(\d)-0(\d)", text)
                for i in range(int(a), int(b) + 1)}
    assert lessons >= {str(i) for i in range(1, 8)}, lessons
    for concept in ("P_weak", "P_ceiling", "P_weak→strong", "PGR", "confidence loss",
                    "distillation", "data selection", "cascade", "proxy-tuning", "APGR",
                    "bootstrapping", "Superalignment"):
        assert concept in text, concept


def test_nodes_lie_on_the_canvas_in_their_band():
    from w2s.concept_map import _BAND_SPANS

    for key, (_, x, y, band) in NODES.items():
        low, high = _BAND_SPANS[band]
        assert 0 <= x <= 16 and low <= y <= high, key


def test_draws_every_box_and_arrow():
    ax = draw_concept_map()
    assert len(ax.texts) >= len(NODES) + len(BANDS)
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) == len(EDGES)
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
