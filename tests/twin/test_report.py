"""``twin report``: a self-contained HTML page with every KPI, plot and snapshot, rendered
non-blank by a headless browser where one is installed."""

from __future__ import annotations

import base64
import html.parser
import io
import shutil
import subprocess

import numpy as np
import pytest

import twin
from twin.analysis.report import build_report
from twin.viewer.export import external_urls

from .lifeline_city import lifeline_city
from .test_viewer import runs  # noqa: F401  (the module's runs fixture)


@pytest.fixture(scope="module")
def report(runs):  # noqa: F811
    base, trip = runs
    return build_report(trip, base, city=lifeline_city(), snapshot_size=(400, 260))


class _Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.imgs, self.stack = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a["src"])


def test_report_has_every_kpi_and_plot(report, runs):  # noqa: F811
    base, trip = runs
    p = _Parser()
    p.feed(report.html)
    for layer, per in twin.kpis(trip).layers.items():
        for k in per[0]:
            assert f"kpi-{layer}-{k.name}" in p.ids, (layer, k.name)
            assert (k.label or k.name) in report.html
    # every kernel time series, for both runs on one plot
    from twin.analysis.kpis import series

    for layer in trip.layers:
        for key in series(trip, layer):
            assert f"series-{layer}-{key}" in p.ids
    fids = {f for f, _ in report.figures}
    assert fids <= p.ids and len(p.imgs) == len(report.figures)
    assert {"map-traffic/link_speed", "map-power/loading", "map-water/pressure",
            "dist-power/loading"} <= fids
    assert any(f.startswith("snap-A-") for f in fids) and any(f.startswith("snap-B-")
                                                              for f in fids)
    # the comparison: B (the outage) is worse in energy not served
    assert "worse" in report.html and "B − A" in report.html
    # images decode and are not blank
    from PIL import Image

    for src in p.imgs:
        assert src.startswith("data:image/png;base64,")
        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
        assert img.std() > 5


def test_report_is_self_contained(report):
    assert external_urls(report.html) == []
    assert "<script" not in report.html


def test_cli_report(runs, tmp_path):  # noqa: F811
    import cim
    from twin.cli.main import main

    city_file = tmp_path / "city.city.json"
    cim.write_cityjson(lifeline_city(), city_file)
    out = tmp_path / "r.html"
    assert main(["report", str(runs[0].path), "--out", str(out), "--city", str(city_file),
                 "--no-snapshots"]) == 0
    assert out.stat().st_size > 10_000
    assert main(["report", str(tmp_path / "none.zarr"), "--out", str(out)]) == 1


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium to render the page")
def test_report_renders_in_a_browser(report, tmp_path):
    page = tmp_path / "r.html"
    page.write_text(report.html)
    png = tmp_path / "r.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={png}", "--window-size=1000,1400", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert img.std() > 10
    assert (np.abs(img - 255).sum(axis=2) > 30).mean() > 0.02   # not a white page
