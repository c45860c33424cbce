pytest_plugins = ["pytester"]

GOOD = "name: good\ninputs: {A: [1, 2]}\nfunction: sum(A ** 2)\nexpect: {gradient: [2, 4]}\n"
BAD = "name: bad\ninputs: {A: [1, 2]}\nfunction: sum(A ** 2)\nexpect: {gradient: [2, 5]}\n"


def test_case_files_are_collected_only_when_asked(pytester):
    pytester.makefile(".yaml", good=GOOD, bad=BAD)
    # the plugin is registered by the installed entry point, but collects nothing unasked
    assert pytester.runpytest().ret == 5
    result = pytester.runpytest("--fdcheck")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*df/da2: numeric 4.0000000, analytic 5.0000000*"])


def test_only_case_files_are_collected_and_failures_show_the_report_alone(pytester):
    pytester.makefile(".yaml", good=GOOD, bad=BAD, config="learning_rate: 0.1\nepochs: 3\n")
    # In a subprocess: an in-process run would import NumPy's extensions a second time.
    result = pytester.runpytest_subprocess("--fdcheck")
    result.assert_outcomes(passed=1, failed=1)                   # config.yaml is not collected
    result.stdout.fnmatch_lines(["*hint: *"])
    assert "fdcheck/runner.py" not in result.stdout.str()        # no frames of fdcheck's own


def test_the_allow_python_option_is_documented(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--fdcheck-allow-python*", "*importing them runs*"])
