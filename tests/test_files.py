"""Input files (sim._files): special files and oversized files refused before they are read."""

from pathlib import Path

import pytest

from sim._files import staged_folder

from .helpers import listing, one_line_error


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo", "link"])
def test_special_files_are_refused_without_reading(project, capsys, special):
    """A device, a FIFO, or a catalogue symlinked to /dev/zero: refused by name before any read (no hang, no
    MemoryError)."""
    import os

    path = special
    if special == "fifo":
        path = str(project / "experiments" / "fifo.toml")
        os.mkfifo(path)
    elif special == "link":
        catalogue = project / "priors" / "catalogues" / "models.toml"
        catalogue.unlink()
        catalogue.symlink_to("/dev/zero")
        path = str(project / "experiments" / "training_cost.toml")
    err = one_line_error(capsys, ["validate", path] if special != "fifo" else ["run", path])
    assert "is not a regular file (a device, pipe or socket); give a TOML file" in err
    assert not (project / "outputs").exists()


def test_a_file_over_the_size_limit_is_refused(project, capsys):
    from sim._files import MAX_INPUT_BYTES

    big = project / "priors" / "big.toml"
    big.write_text("# padding\n" * (MAX_INPUT_BYTES // 10 + 1))
    assert "file is larger than 16 MiB; sim's input files are small TOML files" in one_line_error(
        capsys, ["validate", str(big)])


def test_staged_folder_swaps_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out" / "exp"
    with staged_folder(target) as stage:
        (stage / "a.txt").write_text("one")
        (stage / "sub").mkdir()
        (stage / "sub" / "b.txt").write_text("kept")
    assert listing(target) == {Path("a.txt"): b"one", Path("sub/b.txt"): b"kept"}
    with pytest.raises(RuntimeError), staged_folder(target, keep=["sub"]) as stage:
        (stage / "a.txt").write_text("two")
        raise RuntimeError("failed half way")
    assert listing(target) == {Path("a.txt"): b"one", Path("sub/b.txt"): b"kept"}  # untouched
    with staged_folder(target, keep=["sub"]) as stage:
        (stage / "c.txt").write_text("three")
    assert listing(target) == {Path("c.txt"): b"three", Path("sub/b.txt"): b"kept"}
    assert [p.name for p in target.parent.iterdir()] == ["exp"]  # nothing left beside it
