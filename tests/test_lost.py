"""Nothing lost: standard output always carries the whole report; side files
have names of their own, and one that cannot be written is said after it;
JSON is strict and JUnit valid whatever the names."""
import json
import xml.etree.ElementTree as ET

import pytest

GOOD = "name: {name}\ninputs: {{x: [1.0, 2.0]}}\nfunction: sum(x ** 2)\nexpect: {{gradient: [2, 5]}}\n"


@pytest.mark.parametrize("fmt", ["json", "junit", "text"])
def test_a_side_file_that_cannot_be_written_loses_nothing_of_the_report(cli, write, tmp_path,
                                                                        fmt):
    path = write("a.yaml", GOOD.format(name="a"))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    code, out, err = cli("run", path, "--save", str(blocked / "m"), "--format", fmt)
    assert code == 2 and "cannot write" in err
    if fmt == "json":
        assert json.loads(out)["summary"] == {"cases": 1, "passed": 0, "failed": 1, "errors": 0}
    elif fmt == "junit":
        assert ET.fromstring(out).find(".//failure") is not None
    else:
        assert "FAIL  a" in out and "0 passed, 1 failed" in out


def test_side_files_of_the_same_case_name_in_two_files_do_not_collide(cli, tmp_path):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "c.yaml").write_text(GOOD.format(name="a/b"))
    (tmp_path / "two" / "d.yaml").write_text(GOOD.format(name="a-b"))
    code, _, _ = cli("run", str(tmp_path / "one"), str(tmp_path / "two"),
                     "--save", str(tmp_path / "m"))
    assert code == 1
    assert len(list((tmp_path / "m").glob("*.npz"))) == 3


@pytest.mark.parametrize("name", ["bad \ufffe name", "ctrl \x07 name", "nl\nname"])
def test_junit_is_valid_xml_for_any_name(cli, write, name):
    path = write("j.yaml", GOOD.format(name=json.dumps(name)))
    code, out, _ = cli("run", path, "--format", "junit")
    root = ET.fromstring(out)
    assert root.find(".//testcase").get("name")


def test_a_file_level_error_is_a_testcase_named_by_its_file(cli, write):
    path = write("broken.yaml", "cases: [\n")
    code, out, _ = cli("run", path, "--format", "junit")
    (case,) = ET.fromstring(out).iter("testcase")
    assert code == 2 and case.get("name") != "None" and "broken.yaml" in case.get("name")


def test_json_is_strict_whatever_a_number_is():
    from fdcheck.report import results_json
    from fdcheck.runner import CaseResult
    result = CaseResult("s", "s.yaml", 1, False, "an error", (), 0, float("inf"))
    doc = json.loads(results_json([result]),
                     parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert doc["cases"][0]["seconds"] is None


def test_a_file_name_cannot_forge_a_report_line(cli, tmp_path):
    folder = tmp_path / "x\nPASS  forged"
    folder.mkdir()
    (folder / "c.yaml").write_text(GOOD.format(name="c"))
    code, out, _ = cli("run", str(folder / "c.yaml"))
    assert not any(line.startswith("PASS  forged") for line in out.splitlines())
