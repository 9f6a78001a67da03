"""config.yml's component and policy names, as Rasa checks them (import uses the same checks)."""

from engine.formats import check_project_files

CONFIG = """recipe: default.v1
assistant_id: shop
pipeline:
  - name: WhitespaceTokenizer
  - name: {component}
policies:
  - name: FlowPolicy
"""


def _problems(component):
    _, problems = check_project_files({"config.yml": CONFIG.format(component=component)})
    return [p for p in problems if p.path.startswith("pipeline")]


def test_an_import_with_an_unknown_component_is_refused_naming_file_line_and_key():
    (problem,) = _problems("NoSuchComponent")
    assert (problem.file, problem.line, problem.path, problem.severity) == (
        "config.yml",
        5,
        "pipeline[1].name",
        "error",
    )
    assert "unknown pipeline component 'NoSuchComponent'" in problem.message


def test_a_custom_class_path_or_a_misplaced_policy_only_warns():
    (custom,) = _problems("addons.MyTokenizer")
    assert custom.severity == "warning" and "custom pipeline component" in custom.message
    (misplaced,) = _problems("TEDPolicy")
    assert misplaced.severity == "warning" and "belongs under 'policies'" in misplaced.message
    assert _problems("CountVectorsFeaturizer") == []


def test_a_near_miss_suggests_the_right_name():
    (problem,) = _problems("whitespacetokenizer")
    assert "Did you mean 'WhitespaceTokenizer'?" in problem.message
