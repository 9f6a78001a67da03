"""The analytics bench runs (small sizes; its figures are printed, never asserted on)."""

from bench import analytics


def test_the_bench_measures_a_rollup_and_the_dashboard(db):
    figures = [*analytics._rollup_day(600), *analytics._dashboard(7, repeat=1)]
    labels = [figure.label for figure in figures]
    assert any(label.startswith("Rollup of one day") for label in labels)
    assert any(label.startswith("Annotation sample of 200 messages") for label in labels)
    assert any(label.startswith("Dashboard p95 (7 days: 84 rollup rows") for label in labels)
    assert all(figure.value >= 0 for figure in figures)
    from apps.projects.models import Assistant

    assert not Assistant.objects.filter(name__startswith="bench-").exists()  # cleaned up
