"""Fuzzed input files: mutated copies of the shipped priors, experiment and catalogue files.

Every mutant must either pass or get the project's own one-line error (exit
status 2), never another exception, a traceback or a hang. The mutations are
drawn from a seeded generator, so a failure names a case that can be replayed
(``FUZZ_CASES`` and ``FUZZ_SEED`` change the budget and the draw).
"""

import os
import random
import re
import signal

import pytest

from sim.cli import main

from ..helpers import ROOT

SEED = int(os.environ.get("FUZZ_SEED", "20231"))
VALIDATE_CASES = int(os.environ.get("FUZZ_CASES", "600"))
RUN_CASES = VALIDATE_CASES // 10  # a run case costs about 15 validate cases
TARGETS = ["priors/seed_2023.toml", "experiments/search_cost.toml", "priors/market_2026.toml",
           "priors/catalogues/offerings.toml", "experiments/inference_cost.toml"]
NUMBER = re.compile(r"(?<![\w.\"])-?\d[\d_]*(\.\d+)?([eE][-+]?\d+)?(?![\w\"])")
STRING = re.compile(r'"[^"\n]*"')
REPLACEMENTS = ["nan", "inf", "-inf", "-1", "0", "1e308", "-1e308", "1e-308", "1.5", "10000000000000000000000",
                "true", '"text"', "[]", "{}", "[1, 2]", "0.5", "3", "-0.0", "1_000"]
STRINGS = ['""', '"\u00e9\u4e2d\U0001f600"', '"../../etc/passwd"', '"/abs"', '"a/b"', '"\\u0000"', '"x" ',
           '"normal"', '"choice"', '"scipy"', '"lognormal"', '"fixed"', '"' + "y" * 5000 + '"', '"all"', '"sobol"']


def _deep(depth: int) -> str:
    return "deep = " + "{a = " * depth + "1" + "}" * depth + "\n"


def mutate(text: str, rng: random.Random) -> str:
    """One to three random edits of a TOML text."""
    for _ in range(rng.randint(1, 3)):
        lines = text.splitlines(keepends=True) or ["\n"]
        op = rng.randrange(10)
        i = rng.randrange(len(lines))
        if op == 0:  # delete a line (a key, a table header)
            del lines[i]
        elif op == 1:  # duplicate a line (duplicated keys and tables)
            lines.insert(i, lines[i])
        elif op in (2, 3):  # a number becomes something else
            numbers = [(j, m) for j, line in enumerate(lines) for m in NUMBER.finditer(line)]
            if numbers:
                j, m = rng.choice(numbers)
                lines[j] = lines[j][:m.start()] + rng.choice(REPLACEMENTS) + lines[j][m.end():]
        elif op == 4:  # a string becomes something else
            strings = [(j, m) for j, line in enumerate(lines) for m in STRING.finditer(line)]
            if strings:
                j, m = rng.choice(strings)
                lines[j] = lines[j][:m.start()] + rng.choice(STRINGS) + lines[j][m.end():]
        elif op == 5:  # deep nesting, at the top or inside a table
            lines.insert(i, _deep(rng.choice([3, 60, 3000])))
        elif op == 6:  # cut the file short
            return "".join(lines)[:rng.randrange(len(text) + 1)]
        elif op == 7:  # misspell a key
            line = lines[i]
            if "=" in line and not line.lstrip().startswith("#"):
                key = line.split("=", 1)[0]
                lines[i] = key.rstrip() + rng.choice(["x", "_", "\u00e9"]) + " =" + line.split("=", 1)[1]
        elif op == 8:  # a table with a name that should not be one
            lines.insert(i, rng.choice(['[scenarios."../up"]\n', "[priors.x]\ndist = 5\n", "[[priors]]\n",
                                        "[scenarios.s.priors.nope]\ndist = \"fixed\"\npoint = 1\n",
                                        "[correlations]\npairs = [[\"a\", \"b\", 2]]\n", "[report]\noutput = 1\n",
                                        "[precision]\nrelative = 0\n", "[sweep]\nyear = [2030, 2020]\n"]))
        else:  # bytes that are not text, or text that is not TOML
            lines.insert(i, rng.choice(["\ufeff", "\x00\n", "= 1\n", "[\n", "key = \"unterminated\n", "\t\n"]))
        text = "".join(lines)
    return text


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _check(capsys, argv, case: str, allowed=(0, 2)):
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(30)
    try:
        code = main(argv)
    except _Hang:
        pytest.fail(f"{case}: hung (over 30 s)")
    except BaseException as exc:  # anything but the project's handled errors is a failure
        pytest.fail(f"{case}: {type(exc).__name__}: {exc}")
    finally:
        signal.alarm(0)
    out, err = capsys.readouterr()
    assert code in allowed, f"{case}: exit status {code}\n{err}"
    assert "Traceback" not in err + out, f"{case}: traceback\n{err}"
    errors = [line for line in err.splitlines() if not line.startswith("sim: warning: ")]
    if code == 2:
        assert len(errors) == 1 and errors[0].startswith("sim: error: "), f"{case}: not one error line\n{err}"
    return code


def _cases(count: int, salt: int):
    rng = random.Random(SEED * 1000 + salt)
    originals = {t: (ROOT / t).read_text(encoding="utf-8") for t in TARGETS}
    for n in range(count):
        target = rng.choice(TARGETS)
        yield n, target, mutate(originals[target], rng), originals[target]


def test_validate_survives_mutated_files(project, capsys):
    outcomes = {0: 0, 2: 0}
    for n, target, text, original in _cases(VALIDATE_CASES, 1):
        path = project / target
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        files = [target] if "catalogues" not in target else ["experiments/inference_cost.toml"]
        outcomes[_check(capsys, ["validate", *files], f"validate case {n} ({target})")] += 1
        path.write_text(original, encoding="utf-8")
    # the mutations reach both outcomes often: the test exercises errors and successes alike
    assert outcomes[0] > VALIDATE_CASES // 20 and outcomes[2] > VALIDATE_CASES // 2, outcomes


def test_run_survives_mutated_files(project, capsys):
    outcomes = {0: 0, 1: 0, 2: 0}
    for n, target, text, original in _cases(RUN_CASES, 2):
        path = project / target
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        experiment = "inference_cost" if "inference" in target or "catalogues" in target else "search_cost"
        code = _check(capsys, ["run", experiment, "--samples", "100", "--no-report"], f"run case {n} ({target})",
                      allowed=(0, 1, 2))
        outcomes[code] += 1
        path.write_text(original, encoding="utf-8")
    assert outcomes[0] > RUN_CASES // 20 and outcomes[2] > RUN_CASES // 4, outcomes
