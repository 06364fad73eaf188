"""Reports: HTML, PDF, JSON and CSV written from a realistic session, checked as real files."""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtGui
from scipy import linalg

from genloupe.app.commands import report as report_command
from genloupe.app.report import export_report, gather_report, parse_formats
from genloupe.app.report.figures import render_figures
from genloupe.app.report.html import label_text
from genloupe.app.report.images import thumbnail_png
from genloupe.app.report.model import metric_row
from genloupe.engine.data import open_data
from genloupe.engine.errors import GenLoupeError, SessionError
from genloupe.engine.session import FlagEditor, Session
from genloupe.engine.session.suggestions import memorized, unlikely
from genloupe.widgets.metrics_panel import format_number

SCRIPT_NOTE = "<script>alert('x')</script> looks like a 7 & an 1"
K = 3  # neighbours of the k-NN manifolds


def _neighbour_distances(features: np.ndarray) -> np.ndarray:
    """Each point's sorted distances to the points of its own set (column 0 is itself)."""
    return np.sort(np.sqrt(((features[:, None] - features[None]) ** 2).sum(-1)), axis=1)


def write_session(path: Path, *, with_metrics: bool = True, with_flags: bool = True) -> Path:
    """A session as the evaluation pipeline writes it, computed for real on the digits.

    The 'model' is independent per-pixel categoricals fitted to the training split: its samples are
    speckled noise that the likelihood scores well. Samples are 120 draws from it, 70 held-out test
    digits and 10 near-copies of reference images (memorized). Realism, manifolds, nearest
    neighbours and metrics are computed in pixel space, PCA gives the 2-D projection.
    """
    digits = open_data("digits")
    levels = digits.levels
    train, reference, test = (digits.split(s).images for s in ("train", "val", "test"))
    counts = np.stack([(train[:, 0].reshape(len(train), -1) == v).sum(0) for v in range(levels)], axis=1) + 1.0
    log_probs = np.log(counts / counts.sum(1, keepdims=True))  # (64, L)
    rng = np.random.default_rng(0)
    cdf = np.cumsum(np.exp(log_probs), axis=1)
    draws = (rng.random((120, 64, 1)) > cdf[None]).sum(-1).clip(0, levels - 1).reshape(120, 1, 8, 8)
    copies = reference[:10].copy()
    copies[:, 0, 4, 4] = np.where(copies[:, 0, 4, 4] > 0, copies[:, 0, 4, 4] - 1, 1)  # one pixel off a real image
    samples = np.concatenate([draws, test[:70], copies]).astype(np.uint8)
    dims = samples[0].size

    def log_px(images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1)
        return log_probs[np.arange(dims), flat].sum(1)

    real_f, fake_f = reference.reshape(len(reference), -1) / (levels - 1), samples.reshape(len(samples), -1) / (levels - 1)
    cross = np.sqrt(((fake_f[:, None] - real_f[None]) ** 2).sum(-1))  # (samples, reference)
    real_nn, fake_nn = _neighbour_distances(real_f), _neighbour_distances(fake_f)
    real_r, fake_r = real_nn[:, K], fake_nn[:, K]
    realism = (real_r[None] / cross).max(1)
    sample_in = (cross <= real_r[None]).any(1)
    reference_in = (cross <= fake_r[:, None]).any(0)
    both = np.concatenate([real_f, fake_f])
    centred = both - both.mean(0)
    proj = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T

    columns = {"sample": {}, "reference": {}}
    for source, images in (("sample", samples), ("reference", reference)):
        lp = log_px(images)
        columns[source] = {"log_px": lp, "bpd": -lp / (dims * math.log(2))}
    columns["sample"] |= {
        "realism": realism, "in_manifold": sample_in, "nn_id": cross.argmin(1).astype(np.int64),
        "nn_distance": cross.min(1), "proj_x": proj[len(real_f):, 0], "proj_y": proj[len(real_f):, 1],
    }
    columns["reference"] |= {"in_manifold": reference_in, "proj_x": proj[: len(real_f), 0], "proj_y": proj[: len(real_f), 1]}

    run = {
        "checkpoint": "/models/pixel-categorical.pt", "checkpoint_hash": "sha256:" + "ab" * 32,
        "model": {"name": "pixel categorical", "family": "factorized", "likelihood": "exact"},
        "reference": {"name": "digits[val]", "checksum": digits.split("val").checksum(), "n": len(reference)},
        "features": "raw pixels", "seed": 0, "n_samples": len(samples), "device": "cpu",
        "versions": {"genloupe": "0.1.0", "torch": "2.13.0"},
        "likelihood_convention": {"description": f"log P(x) of the discrete image, {levels} levels, D={dims}; exact"},
    }
    session = Session.create(path, run)
    for source, images in (("sample", samples), ("reference", reference)):
        session.write_images(source, images, levels)
        session.write_columns(source, columns[source])
    session.write_columns("reference-nn", {"nn_distance": real_nn[:, 1]})  # auxiliary columns, as the pipeline writes
    if with_metrics:
        session.write_metrics(_metrics(real_f, fake_f, cross, real_r, fake_r, columns))
    if with_flags:
        editor = FlagEditor(session)
        s = columns["sample"]
        bad = unlikely(s["log_px"], columns["reference"]["log_px"], 0.3)
        copies = memorized(s["nn_distance"], real_nn[:, 1], 0.05)
        for suggestion in (bad, copies):
            for idx, reason in zip(suggestion.ids, suggestion.reasons):
                editor.add("sample", [idx], "bad" if suggestion.name == "unlikely" else "memorized", state="suggested",
                           reason=reason)
        editor.confirm("sample", bad.ids[:7], "bad")
        editor.confirm("sample", copies.ids, "memorized")
        editor.add("sample", [125], "good")
        editor.add("reference", [3], "2")
        editor.set_note("sample", int(bad.ids[0]), SCRIPT_NOTE)
        editor.set_note("sample", 125, "clean stroke — keep")
    session.close()
    return path


def _metrics(real_f, fake_f, cross, real_r, fake_r, columns) -> dict:
    mu_r, mu_f = real_f.mean(0), fake_f.mean(0)
    cov_r, cov_f = (np.cov(f, rowvar=False) + 1e-6 * np.eye(f.shape[1]) for f in (real_f, fake_f))  # border pixels are constant
    fid = float(((mu_r - mu_f) ** 2).sum() + np.trace(cov_r + cov_f - 2 * linalg.sqrtm(cov_r @ cov_f).real))
    kernel = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731 (KID's polynomial kernel)
    rng = np.random.default_rng(1)
    kids = []
    for _ in range(10):
        r, f = real_f[rng.choice(len(real_f), 100, replace=False)], fake_f[rng.choice(len(fake_f), 100, replace=False)]
        krr, kff, krf = kernel(r, r), kernel(f, f), kernel(r, f)
        kids.append((krr.sum() - np.trace(krr) + kff.sum() - np.trace(kff)) / (100 * 99) - 2 * krf.mean())
    n = {"n_real": len(real_f), "n_fake": len(fake_f)}
    conv = "raw pixels, k=3"
    inside_real = cross <= real_r[None]
    return {
        "fid": {"value": fid, **n, "ci": None, "method": "Fréchet distance of Gaussian fits", "convention": "raw pixels"},
        "kid": {"mean": float(np.mean(kids)), "std": float(np.std(kids)), **n, "method": "10 subsets of 100", "convention": "raw pixels"},
        "precision": {"value": float(columns["sample"]["in_manifold"].mean()), **n, "convention": conv},
        "recall": {"value": float(columns["reference"]["in_manifold"].mean()), **n, "convention": conv},
        "density": {"value": float(inside_real.sum() / (K * len(fake_f))), **n, "convention": conv},
        "coverage": {"value": float((cross.min(0) <= real_r).mean()), **n, "convention": conv},
        "mean_bpd_sample": {"value": float(columns["sample"]["bpd"].mean()), "convention": "bits/dim, exact"},
        "mean_bpd_reference": {"value": float(columns["reference"]["bpd"].mean()), "convention": "bits/dim, exact"},
    }


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def session_path(tmp_path_factory) -> Path:
    return write_session(tmp_path_factory.mktemp("session") / "run.genloupe")


@pytest.fixture(scope="module")
def report(session_path, tmp_path_factory, qapp) -> dict[str, Path]:
    """Every format exported once from the realistic session."""
    out = tmp_path_factory.mktemp("report")
    with Session.open(session_path, read_only=True) as session:
        paths = export_report(session, out)
    return {path.suffix[1:]: path for path in paths}


@pytest.fixture(scope="module")
def stored(session_path) -> dict:
    """What the session holds, read straight from it."""
    with Session.open(session_path, read_only=True) as session:
        return {
            "columns": {source: session.read_columns(source) for source in ("sample", "reference")},
            "auxiliary": session.read_columns("reference-nn"),
            "flags": {source: session.flag_rows(source) for source in ("sample", "reference")},
            "notes": {source: session.notes(source) for source in ("sample", "reference")},
            "metrics": session.read_metrics(),
        }


class _Page(HTMLParser):
    """Tags, attributes and the text of every sample card of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.cards: list[str] = []
        self.text: list[str] = []
        self._card_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "td" and "card" in (attrs.get("class") or "").split():
            self._card_depth = 1
            self.cards.append("")
        elif tag == "td" and self._card_depth:
            self._card_depth += 1

    def handle_endtag(self, tag):
        if tag == "td" and self._card_depth:
            self._card_depth -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self._card_depth:
            self.cards[-1] += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _card(page: _Page, source: str, idx: int) -> str:
    found = [text for text in page.cards if re.search(rf"\b{source} #{idx}\b", text)]
    assert found, f"no card for {source} #{idx}"
    return " ".join(found[0].split())


# -- HTML ------------------------------------------------------------------------------------------------


def test_html_shows_every_flagged_sample_with_its_numbers_labels_and_note(report, stored):
    page = _parse(report["html"])
    flagged = {(source, row[0]) for source, rows in stored["flags"].items() for row in rows if row[2] == "confirmed"}
    assert len(flagged) >= 15
    for source, idx in flagged:
        text = _card(page, source, idx)
        columns = stored["columns"][source]
        assert f"log P(x) {format_number(columns['log_px'][idx])} nats" in text
        assert f"bits/dim {format_number(columns['bpd'][idx])}" in text
        if source == "sample":
            assert f"realism (typical-size real balls) {format_number(columns['realism'][idx])}" in text
            assert f"nearest real #{columns['nn_id'][idx]} at {format_number(columns['nn_distance'][idx])}" in text
        for idx_, label, state, *_ in stored["flags"][source]:
            if idx_ == idx and state == "confirmed":
                assert label_text(label) in text
        note = stored["notes"][source].get(idx)
        if note:
            assert " ".join(note[0].split()) in text
    log_px = stored["columns"]["sample"]["log_px"]
    assert "likelihood top 0.5%" in _card(page, "sample", int(np.argmax(log_px)))  # 1 of 200 samples
    assert "likelihood bottom 0.5%" in _card(page, "sample", int(np.argmin(log_px)))


def test_html_escapes_notes_and_is_self_contained(report):
    raw = report["html"].read_text(encoding="utf-8")
    page = _parse(report["html"])
    assert "&lt;script&gt;alert(" in raw and "<script>" not in raw
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed")]
    assert SCRIPT_NOTE in "".join(page.text)  # the note reads back exactly, as text
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) >= 3 + 18 + 24  # three figures, the flagged cards, top and bottom likelihood
    assert all(src.startswith("data:image/png;base64,") for src in images)
    for src in images:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", raw, re.I)
    assert "url(" not in raw and "@import" not in raw


def test_html_states_provenance_metrics_and_conventions(report, stored):
    text = " ".join(" ".join(_parse(report["html"]).text).split())
    for needle in ("/models/pixel-categorical.pt", "sha256:" + "ab" * 32, "digits[val]", "log P(x) of the discrete image, 17 levels, D=64; exact"):
        assert needle in text
    fid = stored["metrics"]["fid"]
    assert f"FID ↓ {format_number(fid['value'])}" in text
    kid = stored["metrics"]["kid"]
    assert f"{format_number(kid['mean'])} ± {format_number(kid['std'])}" in text
    assert "Fréchet distance of Gaussian fits" in text and "raw pixels" in text  # numbered notes under the table
    assert "in real manifold" not in text and "inside the real manifold" not in text  # realism's balls vs any ball
    for title in ("Likelihood histograms", "Precision and recall manifolds", "Likelihood against quality",
                  "Highest-likelihood samples", "Lowest-likelihood samples"):
        assert title in text


# -- PDF ---------------------------------------------------------------------------------------------------


def test_pdf_has_pages_and_embeds_every_image(report):
    data = report["pdf"].read_bytes()
    assert data.startswith(b"%PDF-")
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", data)
    assert len(pages) >= 3
    images = re.findall(rb"/Subtype\s*/Image\b", data)
    assert len(images) >= 3 + 18  # figures and flagged thumbnails (identical images may be shared)


# -- JSON and CSV ----------------------------------------------------------------------------------------


def _same(value, stored_value) -> bool:
    if isinstance(stored_value, float) and not math.isfinite(stored_value):
        return value is None
    return value == stored_value and type(value) is type(stored_value)


def test_json_round_trips_every_number(report, stored):
    document = json.loads(report["json"].read_text(encoding="utf-8"))
    assert document["format"] == "genloupe-report"
    for source, columns in stored["columns"].items():
        saved = document["sources"][source]
        assert set(saved["columns"]) == set(columns)
        for name, values in columns.items():
            assert all(_same(a, b) for a, b in zip(saved["columns"][name], values.tolist(), strict=True)), name
        assert [tuple(row.values()) for row in saved["flags"]] == stored["flags"][source]
        assert {row["id"]: (row["text"], row["updated"]) for row in saved["notes"]} == stored["notes"][source]
    assert document["metrics"] == stored["metrics"]
    assert document["sources"]["reference-nn"]["columns"]["nn_distance"] == stored["auxiliary"]["nn_distance"].tolist()
    log_px = stored["columns"]["sample"]["log_px"]
    assert document["highest_likelihood"][0] == int(np.argmax(log_px))
    assert document["lowest_likelihood"][0] == int(np.argmin(log_px))


def test_csv_round_trips_the_per_sample_table_with_flags_and_notes(report, stored):
    with open(report["csv"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["source"] for row in rows] == ["sample"] * 200 + ["reference"] * 180
    for source, columns in stored["columns"].items():
        mine = [row for row in rows if row["source"] == source]
        assert [int(row["id"]) for row in mine] == list(range(len(mine)))
        for name, values in columns.items():
            cast = {"b": lambda text: bool(int(text)), "i": int, "f": float}[values.dtype.kind]
            assert [cast(row[name]) for row in mine] == values.tolist(), name
        by_state: dict[str, dict[int, list[str]]] = {"confirmed": {}, "suggested": {}}
        for idx, label, state, *_ in stored["flags"][source]:
            by_state[state].setdefault(idx, []).append(label)
        for row in mine:
            idx = int(row["id"])
            assert row["flags"] == ";".join(by_state["confirmed"].get(idx, []))
            assert row["suggested"] == ";".join(by_state["suggested"].get(idx, []))
            assert row["note"] == stored["notes"][source].get(idx, ("", 0))[0]
    assert all(row["realism"] == "" for row in rows if row["source"] == "reference")


# -- sessions with parts missing ---------------------------------------------------------------------------


def test_a_session_without_metrics_or_flags_still_reports(tmp_path, qapp):
    path = write_session(tmp_path / "bare.genloupe", with_metrics=False, with_flags=False)
    with Session.open(path) as session:
        paths = export_report(session, tmp_path / "out", ("html", "json", "csv"))
    text = " ".join(" ".join(_parse(paths[0]).text).split())
    assert "No metrics in this session yet." in text
    assert "No sample has been flagged or annotated by hand." in text
    assert "Highest-likelihood samples" in text
    assert json.loads(paths[1].read_text())["metrics"] == {}


def test_a_session_with_only_images_reports_without_figures(tmp_path, qapp):
    path = tmp_path / "images.genloupe"
    with Session.create(path, {"checkpoint": "bundle.npz"}) as session:
        session.write_images("sample", open_data("digits").images[:5], 17)
        paths = export_report(session, tmp_path / "out", "html,pdf,csv")
    text = " ".join(" ".join(_parse(paths[0]).text).split())
    assert "The session holds no per-sample likelihoods or features to plot yet." in text
    assert paths[1].read_bytes().startswith(b"%PDF-")
    assert paths[2].read_text().splitlines() == ["id,source,flags,suggested,note"] + [f"{i},sample,,," for i in range(5)]


# -- pieces ------------------------------------------------------------------------------------------------


def test_thumbnails_keep_every_pixel_as_a_sharp_square():
    image = open_data("digits").images[0]  # (1, 8, 8), levels 0..16
    png = thumbnail_png(image, 17, min_px=72)
    picture = np.asarray(Image.open(io.BytesIO(png)))
    assert picture.shape == (72, 72)
    expected = np.rint(image[0] * (255 / 16)).astype(np.uint8).repeat(9, 0).repeat(9, 1)
    assert np.array_equal(picture, expected)
    rgb = thumbnail_png(np.stack([image[0], image[0] * 0, image[0]]), 17, min_px=16)
    assert np.asarray(Image.open(io.BytesIO(rgb))).shape == (16, 16, 3)


def test_figures_are_drawn_on_paper_colours_under_a_dark_theme(session_path, qapp):
    original = qapp.palette()
    dark = QtGui.QPalette(original)
    dark.setColor(QtGui.QPalette.ColorRole.Base, QtGui.QColor("#1e1e1e"))
    dark.setColor(QtGui.QPalette.ColorRole.Text, QtGui.QColor("#eeeeee"))
    qapp.setPalette(dark)
    try:
        with Session.open(session_path, read_only=True) as session:
            figures = render_figures(gather_report(session))
        assert qapp.palette().color(QtGui.QPalette.ColorRole.Base) == QtGui.QColor("#1e1e1e")  # the theme is back
    finally:
        qapp.setPalette(original)
    assert [figure.name for figure in figures] == ["likelihood-histogram", "manifold", "likelihood-vs-quality"]
    for figure in figures:
        image = QtGui.QImage.fromData(figure.png)
        assert image.width() == 2 * figure.width and image.height() == 2 * figure.height
        assert image.pixelColor(4, 4).lightness() > 200


def test_formats_and_folders_are_checked(session_path, tmp_path):
    assert parse_formats(" CSV,html ") == ("html", "csv")
    with pytest.raises(GenLoupeError, match="unknown report format docx"):
        parse_formats("html,docx")
    with pytest.raises(GenLoupeError, match="none given"):
        parse_formats(",")
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder should go")
    with Session.open(session_path, read_only=True) as session, pytest.raises(GenLoupeError, match="cannot create"):
        export_report(session, blocker / "out", "json")


# -- command line ------------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genloupe.app", "report", *args], capture_output=True, text=True, timeout=120)


def test_command_writes_the_files_it_names(session_path, tmp_path):
    done = _cli(str(session_path), "--out", str(tmp_path / "out"), "--format", "json,html")
    assert done.returncode == 0, done.stderr
    written = [Path(line) for line in done.stdout.splitlines()]
    assert written == [tmp_path / "out" / "report.html", tmp_path / "out" / "report.json"]
    assert all(path.stat().st_size > 1000 for path in written)


def test_command_rejects_a_bad_session_or_format_in_one_line(session_path, tmp_path):
    foreign = tmp_path / "notes.genloupe"
    foreign.write_text("not a session")
    for args, message in (
        ((str(foreign), "--out", str(tmp_path / "a")), "not a GenLoupe session"),
        ((str(tmp_path / "missing.genloupe"), "--out", str(tmp_path / "b")), "no such session file"),
        ((str(session_path), "--out", str(tmp_path / "c"), "--format", "html,docx"), "unknown report format docx"),
    ):
        done = _cli(*args)
        assert done.returncode == 2 and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "c").exists()


def test_command_module_runs_in_process(session_path, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["report", str(session_path), "--out", str(tmp_path), "--format", "csv"])
    assert args.run(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.csv")
    args = parser.parse_args(["report", str(tmp_path / "report.csv"), "--out", str(tmp_path)])
    with pytest.raises(SessionError, match="not a SQLite database"):
        args.run(args)


def test_csv_notes_cannot_become_spreadsheet_formulas(tmp_path):
    from genloupe.app.report.tables import _as_text

    assert _as_text('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")' and _as_text("-1 looks off") == "'-1 looks off"
    assert _as_text("a plain note") == "a plain note" and _as_text("") == ""


def test_metric_sizes_name_only_the_sets_the_metric_used():
    assert metric_row("is", {"value": 6.76, "std": 0.32, "n_fake": 1000}).n == "1000 samples"  # IS has no real set
    assert metric_row("fid", {"value": 57.3, "n_fake": 1000, "n_real": 179}).n == "1000 samples, 179 real"
