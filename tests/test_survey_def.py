"""Survey definitions in YAML: the shipped survey, and `ivr check` problems with file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.loader import check_menus

ROOT = Path(__file__).resolve().parent.parent

HEAD = """\
languages:
  en-US: {voice: Polly.Joanna, name: English}
  es-US: {voice: Polly.Lupe, name: Español}
line: {start: main}
menus:
  main:
    prompt: {en-US: For billing press 1, es-US: Para facturación oprima 1}
    options:
      1: {queue: billing}
queues:
  billing: {survey: quick, survey_rate: 25%}
"""

GOOD = """\
surveys:
  quick:
    offer: {en-US: Press 1 for a survey, es-US: Oprima 1 para una encuesta}
    closing: {en-US: Thanks, es-US: Gracias}
    questions:
      - id: csat
        type: scale
        range: 1-5
        prompt: {en-US: Rate us 1 to 5, es-US: Califíquenos del 1 al 5}
"""


def check(tmp_path: Path, surveys: str, head: str = HEAD) -> tuple[int, list[str]]:
    """Run `ivr check` on the head menus plus `surveys`; return the exit code and output lines."""
    folder = tmp_path / "menus"
    folder.mkdir(exist_ok=True)
    (folder / "m.yaml").write_text(head + textwrap.dedent(surveys))
    (tmp_path / "recordings").mkdir(exist_ok=True)
    result = CliRunner().invoke(main, ["check", str(folder), "--recordings", str(tmp_path / "recordings")])
    return result.exit_code, [x.replace(str(folder) + "/", "") for x in result.output.splitlines()]


def test_shipped_survey_has_three_questions_in_both_languages():
    ms, problems = check_menus(ROOT / "menus", ROOT / "recordings")
    assert ms is not None, problems
    survey = ms.surveys["csat"]
    assert survey.kinds == "csat:scale:1-5,resolved:yes_no,nps:nps:0-10"
    assert survey.ask == "after_call" and survey.once_per_days == 30
    for part in (survey.offer, survey.closing, *(q.prompt for q in survey.questions)):
        assert set(part.by_lang) == {"en-US", "es-US"}
    assert ms.queues["billing"].survey == "csat" and ms.queues["support"].survey == "csat"
    assert ms.queues["support"].survey_rate == pytest.approx(0.3)
    assert survey.alert_threshold == 2 and survey.alert_questions == ("csat",)


def test_a_good_survey_loads_with_its_model(tmp_path):
    code, lines = check(tmp_path, GOOD)
    assert code == 0, lines
    ms, _ = check_menus(tmp_path / "menus", tmp_path / "recordings")
    question = ms.surveys["quick"].questions[0]
    assert (question.low, question.high, question.kind) == (1, 5, "scale")
    assert [question.answer(k) for k in ("1", "5", "6", "0", "#", "5#")] == ["1", "5", None, None, None, "5"]


def test_answers_by_type():
    from ivr.model import Prompt, Where
    from ivr.survey_def import Question

    def q(kind: str, low: int = 0, high: int = 0) -> Question:
        return Question("q", kind, Prompt({}), Where("f", 1), low, high)

    assert [q("nps", 0, 10).answer(k) for k in ("0", "10", "10#", "7#", "11", "")] == \
        ["0", "10", "10", "7", None, None]
    assert [q("yes_no").answer(k) for k in ("1", "2", "3")] == ["yes", "no", None]
    assert q("nps", 0, 10).two_digits and not q("scale", 1, 5).two_digits
    assert q("comment").answer("1") is None


@pytest.mark.parametrize(("surveys", "expected"), [
    (GOOD.replace("    closing:", "    colsing: x\n    closing:"),
     "m.yaml:15: unknown field 'colsing' in survey 'quick' (did you mean 'closing'?)"),
    (GOOD.replace(", es-US: Califíquenos del 1 al 5", ""),
     "m.yaml:20: prompt of question #1 of survey 'quick' is missing its text in es-US"),
    (GOOD.replace("type: scale", "type: scales"),
     "m.yaml:18: 'type' of question #1 of survey 'quick' must be one of scale, nps, yes_no, "
     "comment (did you mean 'scale'?), not 'scales'"),
    (GOOD.replace("range: 1-5", "range: 5-1"),
     "m.yaml:19: 'range' of question #1 of survey 'quick' must be like 1-5"),
    (GOOD.replace("range: 1-5", "range: 1-12"),
     "m.yaml:19: 'range' of question #1 of survey 'quick' must be like 1-5"),
    (GOOD.replace("type: scale", "type: yes_no"),
     "m.yaml:19: 'range' of question #1 of survey 'quick' only applies to scale questions"),
    (GOOD.replace("    offer: {en-US: Press 1 for a survey, es-US: Oprima 1 para una encuesta}\n", ""),
     "m.yaml:13: survey 'quick' is offered after the call but has no 'offer' prompt"),
    (GOOD + "    ask: later\n",
     "m.yaml:21: 'ask' of survey 'quick' must be one of after_call, at_start"),
    (GOOD + "    alert: {threshold: 5}\n",
     "m.yaml:21: 'threshold' must be a whole number from 1 to 4, not 5"),
    (GOOD + "    alert: {threshold: 2, questions: [nps]}\n",
     "m.yaml:21: the alert of survey 'quick' watches 'nps', which is not a scale or nps question"),
    (GOOD + "    alert: {questions: [csat]}\n",
     "m.yaml:21: the alert of survey 'quick' needs a 'threshold'"),
    (GOOD + "      - {id: csat, type: yes_no, prompt: {en-US: Yes, es-US: Sí}}\n",
     "m.yaml:21: survey 'quick' already has a question 'csat' (line 17); question ids must be unique"),
    (GOOD + "      - {id: c, type: comment, max_length: 2, prompt: {en-US: Say, es-US: Diga}}\n",
     "m.yaml:21: 'max_length' must be a whole number from 5 to 300, not 2"),
    (GOOD.split("    questions:")[0] + "    questions: []\n",
     "m.yaml:16: survey 'quick' needs 'questions'"),
])
def test_survey_problems_name_file_line_and_fix(tmp_path, surveys, expected):
    code, lines = check(tmp_path, surveys)
    assert code == 1
    assert any(line.startswith(expected) or expected in line for line in lines), lines


def test_long_survey_is_a_warning_not_an_error(tmp_path):
    extra = "".join(f"      - {{id: q{i}, type: yes_no, prompt: {{en-US: Q, es-US: P}}}}\n" for i in range(5))
    code, lines = check(tmp_path, GOOD + extra)
    assert code == 0
    assert any("warning: survey 'quick' has 6 questions" in line for line in lines), lines


def test_a_queue_naming_an_unknown_survey_is_an_error(tmp_path):
    code, lines = check(tmp_path, GOOD, HEAD.replace("{survey: quick", "{survey: quik"))
    assert code == 1
    assert "m.yaml:11: queue 'billing' names survey 'quik', which does not exist " \
           "(did you mean 'quick'?)" in lines
