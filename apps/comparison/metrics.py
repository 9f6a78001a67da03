"""Pure measures of a comparison: the held-out split, per-intent precision/recall/F1 and the
differences between two models' answers.

The split is deterministic: an example is held out when the SHA-256 of its intent and text,
read as a number, is divisible by HOLD_OUT_EVERY (so about one example in five, the same one
every time, whatever the order of the files), and an intent always keeps at least one example
to train on and gives at least one to test on when it has two or more.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

HOLD_OUT_EVERY = 5


def _bucket(intent: str, text: str) -> int:
    digest = hashlib.sha256(f"{intent}\x00{text}".encode()).hexdigest()
    return int(digest, 16)


def held_out_split(
    examples: Iterable[tuple[str, str]],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(train, test)`` of ``(text, intent)`` pairs (duplicates dropped, each list sorted by
    intent then text)."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in examples:
        if intent and text.strip() and text not in by_intent[intent]:
            by_intent[intent].append(text)
    train: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for intent in sorted(by_intent):
        texts = sorted(by_intent[intent], key=lambda text: (_bucket(intent, text), text))
        chosen = {t for t in texts if _bucket(intent, t) % HOLD_OUT_EVERY == 0}
        if len(texts) >= 2 and not chosen:
            chosen = {texts[0]}  # the lowest bucket: still deterministic
        if len(chosen) == len(texts):
            chosen.discard(texts[-1])
        for text in sorted(texts):
            (test if text in chosen else train).append((text, intent))
    return train, test


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def per_intent_scores(pairs: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """Precision, recall, F1 and support per intent of ``(expected, predicted)`` pairs, and
    the accuracy: ``{"intents": {name: {"precision", "recall", "f1", "support"}},
    "accuracy", "count"}``. Precision of an intent never predicted, and recall of one never
    expected, are None; F1 is 2TP / (2TP + FP + FN), 0 when the intent was never right."""
    true_positive: dict[str, int] = defaultdict(int)
    predicted: dict[str, int] = defaultdict(int)
    support: dict[str, int] = defaultdict(int)
    for expected, guess in pairs:
        support[expected] += 1
        if guess:
            predicted[guess] += 1
        if guess == expected:
            true_positive[expected] += 1
    intents = {}
    for name in sorted(set(support) | set(predicted)):
        hits = true_positive[name]
        # 2TP / (2TP + FP + FN): 0 when the intent was expected or predicted and never right.
        f1 = round(2 * hits / (predicted[name] + support[name]), 4)
        intents[name] = {
            "precision": _ratio(hits, predicted[name]),
            "recall": _ratio(hits, support[name]),
            "f1": f1,
            "support": support[name],
        }
    correct = sum(true_positive.values())
    return {"intents": intents, "accuracy": _ratio(correct, len(pairs)), "count": len(pairs)}


def _delta(before: float | None, after: float | None) -> float | None:
    if before is None or after is None:
        return None
    return round(after - before, 4)


def score_rows(base: dict[str, Any], candidate: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per intent of either: both models' scores and the F1 delta (candidate minus
    live), the intents whose F1 changed most first, then by name."""
    rows = []
    for name in sorted(set(base["intents"]) | set(candidate["intents"])):
        before = base["intents"].get(name, {})
        after = candidate["intents"].get(name, {})
        rows.append(
            {
                "intent": name,
                "base": before,
                "candidate": after,
                "f1_delta": _delta(before.get("f1"), after.get("f1")),
                "support": max(before.get("support", 0), after.get("support", 0)),
            }
        )
    rows.sort(key=lambda row: (-abs(row["f1_delta"] or 0), row["intent"]))
    return rows


def outcome_changes(
    base: dict[str, dict[str, Any]], candidate: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """E2E outcomes by case name (``{"status", "failure"}``) of two models: the cases that
    went from passed to failed and back, the ones only one side has, and the counts."""
    broke, fixed, unchanged = [], [], 0
    for name in sorted(set(base) & set(candidate)):
        before, after = base[name], candidate[name]
        row = {"name": name, "file": after.get("file"), "base": before, "candidate": after}
        if before["status"] != "failed" and after["status"] == "failed":
            broke.append(row)
        elif before["status"] == "failed" and after["status"] != "failed":
            fixed.append(row)
        else:
            unchanged += 1

    def counts(results: dict[str, dict[str, Any]]) -> dict[str, int]:
        tally = {"passed": 0, "failed": 0, "skipped": 0}
        for result in results.values():
            tally[result["status"]] = tally.get(result["status"], 0) + 1
        return tally

    return {
        "passed_to_failed": broke,
        "failed_to_passed": fixed,
        "unchanged": unchanged,
        "only_candidate": sorted(set(candidate) - set(base)),
        "only_base": sorted(set(base) - set(candidate)),
        "counts": {"base": counts(base), "candidate": counts(candidate)},
    }


def trigger_changes(
    rows: Sequence[tuple[str, str | None, str | None]], examples: int = 3
) -> dict[str, Any]:
    """``(message, live flow, candidate flow)`` rows: how often each flow starts on either
    side, and the flows whose triggering changed, each with up to `examples` messages that
    moved to it or away from it."""
    started: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    moves: dict[str, dict[str, list]] = defaultdict(lambda: {"gained": [], "lost": []})
    changed = 0
    for message, before, after in rows:
        if before:
            started[before][0] += 1
        if after:
            started[after][1] += 1
        if before == after:
            continue
        changed += 1
        move = {"message": message, "base": before, "candidate": after}
        if after:
            moves[after]["gained"].append(move)
        if before:
            moves[before]["lost"].append(move)
    flows = []
    for flow in sorted(moves):
        base_count, candidate_count = started[flow]
        flows.append(
            {
                "flow": flow,
                "base": base_count,
                "candidate": candidate_count,
                "gained": len(moves[flow]["gained"]),
                "lost": len(moves[flow]["lost"]),
                "examples": (moves[flow]["gained"] + moves[flow]["lost"])[:examples],
            }
        )
    return {"messages": len(rows), "changed": changed, "flows": flows}
