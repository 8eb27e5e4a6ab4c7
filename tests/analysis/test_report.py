"""``colsim report``: the HTML report of a tiny study, checked as a file and in a browser."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from colsim.analysis.report import build_report
from colsim.cli import main

SECTION_KEYS = ["sparsity", "stability", "thresholds", "baseline", "reduction_tau",
                "reduction_rho", "sensitivity", "accuracy", "crosscheck", "provenance"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> dict[str, Path]:
    """A profile of the tiny DiT and a sweep of two tiny workloads on both threshold axes."""
    folder = tmp_path_factory.mktemp("study")
    profile = folder / "tiny-dit.h5"
    assert main(["profile", "--model", "tiny-dit", "--steps", "4", "--out", str(profile)]) == 0
    sweep = folder / "sweep"
    assert main(["sweep", "--models", "tiny-dit", "--size", "tiny", "--iterations", "3",
                 "--layouts", "rowmajor", "hotcold", "--rhos", "0.1", "0.164",
                 "--out", str(sweep)]) == 0
    assert main(["sensitivity", "--models", "tiny-dit", "--size", "tiny", "--iterations", "2",
                 "--arrays", "4x4,8x8", "--scale-buffers", "--set", "dram.preset=gddr6,hbm2",
                 "--executor", "local", "--out", str(sweep)]) == 0
    for tau in ("0.1", "0.164"):
        assert main(["accuracy", "--model", "tiny-dit", "--profile", str(profile), "--steps",
                     "4", "--tau", tau, "--out", str(sweep)]) == 0
    return {"profile": profile, "sweep": sweep, "folder": folder}


@pytest.fixture(scope="module")
def report(tiny_study: dict[str, Path]):
    return build_report(out=tiny_study["folder"] / "report", profiles=[tiny_study["profile"]],
                        results=[tiny_study["sweep"]])


def test_report_has_every_section_and_says_which_inputs_are_absent(report) -> None:
    assert [s.key for s in report.sections] == SECTION_KEYS
    absent = {s.key for s in report.sections if s.missing}
    assert absent == {"reduction_tau", "crosscheck"}
    sensitivity = next(s for s in report.sections if s.key == "sensitivity")
    assert len(sensitivity.figures) == 2  # array and dram.preset both vary
    accuracy = next(s for s in report.sections if s.key == "accuracy")
    assert len(accuracy.tables[0].rows) == 2  # one row per threshold, the same run replaced
    assert accuracy.figures
    html = report.html.read_text()
    assert html.count("Input absent:") == len(absent)
    for section in report.sections:
        assert f'id="{section.key}"' in html
        assert section.command in html.replace("&#39;", "'")


def test_report_is_self_contained_with_png_and_svg_figures(report) -> None:
    html = report.html.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # no network
    images = re.findall(r'<img src="data:image/png;base64,', html)
    pngs = [p for p in report.figures if p.suffix == ".png"]
    assert len(images) == len(pngs) == len(report.figures) // 2 >= 5
    assert all(p.with_suffix(".svg") in report.figures and p.stat().st_size for p in pngs)
    assert '<table class="sortable">' in html


def test_report_command_prints_the_page_last(tiny_study, tmp_path, capsys) -> None:
    out = tmp_path / "cli-report"
    assert main(["report", "--profile", str(tiny_study["profile"]), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(out / "report.html")
    assert "input absent for: Baseline" in lines[1]


def test_a_rerun_of_accuracy_replaces_its_row(tiny_study) -> None:
    from colsim.analysis.results import load_results

    table = load_results(tiny_study["sweep"], "accuracy")
    assert sorted(table["value"]) == [0.1, 0.164]
    assert main(["accuracy", "--model", "tiny-dit", "--profile", str(tiny_study["profile"]),
                 "--steps", "4", "--tau", "0.1", "--out", str(tiny_study["sweep"])]) == 0
    again = load_results(tiny_study["sweep"], "accuracy")
    assert sorted(again["value"]) == [0.1, 0.164]


def _browser():
    """Return a headless Chromium WebDriver, or skip with the reason it cannot start."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run "
                    "installs them where apt-get can)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--window-size=1280,900", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(options=options, service=Service(driver))
    except WebDriverException as exc:
        pytest.skip(f"headless Chromium did not start: {exc.msg}")


def test_report_renders_in_chromium(report, tmp_path) -> None:
    driver = _browser()
    shots = Path(os.environ.get("COLSIM_REPORT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    try:
        driver.get(report.html.as_uri())
        loaded = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert loaded and all(loaded)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        # Readable at a 1280-pixel window: nothing wider than the viewport.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 1280
        # Sorting a table by a numeric column orders its rows.
        header = driver.find_element("css selector", "#baseline th:nth-child(2)")
        header.click()
        assert header.get_attribute("aria-sort") == "ascending"
        for section in report.sections:
            element = driver.find_element("id", section.key)
            driver.execute_script("arguments[0].scrollIntoView()", element)
            element.screenshot(str(shots / f"{section.key}.png"))
        assert len(list(shots.glob("*.png"))) >= len(report.sections)
    finally:
        driver.quit()
