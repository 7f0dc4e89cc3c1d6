"""The report as HTML and Markdown (sim.report.document): escaped text, embedded figures, folded tables."""

from sim.cli import main

from ..helpers import with_prior


def test_markdown_report_escapes_injected_markup(project, capsys):
    """Markdown viewers render HTML: text from input files cannot open a tag in report.md (the HTML escapes it too)."""
    path = project / "priors" / "seed_2023.toml"
    path.write_text(with_prior(path.read_text(), "cache_hit_rate",
                               'dist = "beta"\nci90 = [0.18, 0.50]\npoint = 0.3\nunit = "fraction"\n'
                               'source = "<script>alert(1)</script> <img src=x onerror=alert(2)> and </td> < 0.5"'))
    assert main(["run", "--samples", "500", "--no-sensitivity"]) == 0
    folder = project / "outputs" / "search_cost"
    md, page = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    for text in (md, page):
        assert "<script" not in text and "<img src=x" not in text and "</td> <" not in text.replace("\n", " ")
    assert "&lt;script>alert(1)&lt;/script>" in md and "&lt;img src=x onerror=alert(2)>" in md
    assert "< 0.5" in md  # a "<" that opens nothing stays as written
