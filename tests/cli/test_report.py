"""fusecli metrics --report: one self-contained HTML page, checked as a file and in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.imaging import write_image

from conftest import smooth_image

SCENES = 40


@pytest.fixture(scope="module")
def comparison(tmp_path_factory) -> Path:
    """Two methods' outputs (pixel average, pixel maximum) for 40 IR/visible scenes, and the report."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(5)
    for k in range(SCENES):
        ir, vis = smooth_image(rng, 48, 64), smooth_image(rng, 48, 64, 3)
        write_image(root / "ir" / f"s{k:02d}.png", ir)
        write_image(root / "vis" / f"s{k:02d}.png", vis)
        write_image(root / "average" / f"s{k:02d}.png", np.clip(0.5 * ir[..., None] + 0.5 * vis, 0, 1))
        write_image(root / "maximum" / f"s{k:02d}.png", np.maximum(ir, vis.mean(-1)))
    result = CliRunner().invoke(cli, ["metrics", "--compare", str(root / "average"), str(root / "maximum"), "--sources", str(root / "ir"),
                                      str(root / "vis"), "--metrics", "EN,SSIM,Qabf,Qcv", "--report", str(root / "report.html")])
    assert result.exit_code == 0, result.output
    return root


def page_data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S).group(1).replace("<\\/", "</"))


def test_the_report_is_one_self_contained_file(comparison):
    text = (comparison / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)\s*=\s*["\'](?!data:)', text)  # nothing fetched: every picture is embedded
    data = page_data(comparison / "report.html")
    assert data["methods"] == ["average", "maximum"] and data["columns"] == ["EN", "SSIM", "Qabf", "Qcv"]
    assert len(data["scenes"]) == SCENES and all(len(s["sources"]) == 2 and s["sources"][0].startswith("data:image/jpeg;base64,") for s in data["scenes"])
    means = data["means"]
    assert data["best"]["Qcv"] == min(means, key=lambda m: means[m]["Qcv"])  # lower is better
    assert data["best"]["SSIM"] == max(means, key=lambda m: means[m]["SSIM"])


def test_the_report_refuses_a_single_image_and_an_existing_file(comparison):
    again = CliRunner().invoke(cli, ["metrics", "--fused", str(comparison / "average"), "--sources", str(comparison / "ir"),
                                     str(comparison / "vis"), "--report", str(comparison / "report.html")])
    assert again.exit_code == 2 and "already exists" in again.output
    one = CliRunner().invoke(cli, ["metrics", str(comparison / "average" / "s00.png"), str(comparison / "ir" / "s00.png"),
                                   str(comparison / "vis" / "s00.png"), "--report", str(comparison / "one.html")])
    assert one.exit_code == 2 and "folders" in one.output


def chromium():
    """A headless Chromium driven by selenium, where both are installed (Debian's chromium and
    chromium-driver, pip's selenium); None otherwise: the browser checks then do not run."""
    try:
        from selenium import webdriver
    except ImportError:
        return None
    binary, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not binary or not driver:
        return None
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    if driver is None:
        pytest.skip("no headless Chromium with selenium here (apt-get install chromium chromium-driver; pip install selenium)")
    yield driver
    driver.quit()


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_report_works_in_a_browser(comparison, browser):
    """Loads without console errors; the best cells are marked; a click sorts the table; the slider
    moves the split; the gallery's pictures appear as their cards scroll into view."""
    from selenium.webdriver.common.by import By

    browser.get((comparison / "report.html").as_uri())
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    rows = lambda: [r.find_element(By.TAG_NAME, "td").text.split(" ")[0] for r in browser.find_elements(By.CSS_SELECTOR, "#scores tbody tr")]  # noqa: E731
    assert rows() == ["average", "maximum"] and len(browser.find_elements(By.CSS_SELECTOR, "#scores td.best")) == 4
    data = page_data(comparison / "report.html")
    header = browser.find_element(By.CSS_SELECTOR, '#scores th[data-column="Qcv"]')
    header.click()  # descending
    assert rows() == sorted(data["methods"], key=lambda m: -data["means"][m]["Qcv"])
    browser.find_element(By.CSS_SELECTOR, '#scores th[data-column="Qcv"]').click()  # ascending
    assert rows() == sorted(data["methods"], key=lambda m: data["means"][m]["Qcv"])
    width = lambda: browser.execute_script("return document.getElementById('top').getBoundingClientRect().width")  # noqa: E731
    before = width()
    browser.execute_script("const s = document.getElementById('slider'); s.value = 90; s.dispatchEvent(new Event('input'));")
    assert width() > before + 100
    shown = lambda: browser.execute_script("return document.querySelectorAll('#gallery img').length")  # noqa: E731
    assert shown() < SCENES * 4 // 2  # at the top of the page: at most the first cards have pictures
    browser.execute_script("document.getElementById('gallery').scrollIntoView()")
    wait_for(lambda: shown() > 0)
    assert shown() < SCENES * 4  # only the cards in view (and just below) have pictures
    at_bottom = "return window.scrollY + window.innerHeight >= document.body.scrollHeight - 2"
    for _ in range(400):  # down the page (which grows as cards fill) to its end
        if browser.execute_script(at_bottom) and shown() == SCENES * 4:
            break
        browser.execute_script("window.scrollBy(0, 400)")
        time.sleep(0.03)
    assert shown() == SCENES * 4  # every card filled once seen: 2 sources + 2 outputs
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
