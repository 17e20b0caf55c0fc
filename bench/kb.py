"""Knowledge-base matcher benchmark: accuracy, abstention and latency, against two baselines.

`python -m bench kb [--quick] [--json] [--failures]` reads bench/data/kb_eval.yaml and prints, for the
matcher: top-1 accuracy in scope (answered with the right entry), accuracy counting suggestions, correct
abstention out of scope, rank-1 accuracy ignoring the decision, the same per kind, and the same for its
lexical half alone (no classifier: an ablation); then the same figures for a rapidfuzz `extractOne`
baseline (default settings, and a folded token_set variant) and a BM25 baseline, each at its own best
cut-off (best mean of accuracy and abstention over a grid); then p50/p99 latency per question at the real
size and at 10× (synthetic perturbed copies of the entries), with the time to build (train) the 10×
matcher, the memory it adds and the run's peak RSS.
The dev sets (bench/data/kb_dev.yaml and kb_dev_2–21.yaml: written blind, then looked at) are reported
the same way, with their failures under --failures. For each held-out set that exists
(bench/data/kb_heldout.yaml, kb_heldout_2026.yaml, kb_heldout_3.yaml and kb_heldout_4.yaml: questions
written blind, never used for tuning), the matcher's aggregate figures and per-kind figures are printed
too ("held-out", and "heldout" by file name in --json): no per-question results.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import yaml
from rank_bm25 import BM25Okapi
from rapidfuzz import fuzz, process

from knowledge.classifier import MODEL_CACHE_ENV
from knowledge.decision import Decision
from knowledge.kb import KnowledgeBase, load_knowledge_base, load_merged
from knowledge.normalize import fold_text
from knowledge.retrieval import Matcher

DATA = Path(__file__).resolve().parent / "data"
EVAL_FILE = DATA / "kb_eval.yaml"
# Written blind by someone who never saw the sample questions: never tuned on, only its aggregate figures
# are printed (no per-question failures), so it stays an honest estimate of unseen questions.
HELDOUT_FILES = [
    DATA / "kb_heldout.yaml",
    DATA / "kb_heldout_2026.yaml",  # from the fact sheet alone (2026)
    # Written 2026-11-30 by a writer who saw only the fact sheet and the entry titles, after the two sets
    # above had been looked at; only its aggregate figures have been printed — but its first 28 questions
    # (cut at 200 characters, 4 labels) were once shown by mistake (session 7): a less clean estimate.
    DATA / "kb_heldout_3.yaml",
    # Written 2026-11-30 (later) the same way, after kb_heldout_3.yaml's aggregates had been printed many
    # times while the dev set was tuned on: only its aggregate figures have ever been printed.
    DATA / "kb_heldout_4.yaml",
]
# Written blind like the held-out sets (2026-11-30), then looked at: its failures chose the thresholds and
# showed what the paraphrases lacked. Reported (with its failures under --failures), not held out.
# A second dev set, written the same way (2026-11-30, later; persona: a commune extension officer), then
# looked at: its failures showed the product and dossier confusions that the product lexicon and the
# contrastive questions address.
DEV_FILES = [
    DATA / "kb_dev.yaml",
    DATA / "kb_dev_2.yaml",
    # A third (persona: a young farmer typing fast without accents, forwarding his parents' run-on
    # voice-to-text messages): sector against product, fresh produce, and other subjects' near misses.
    DATA / "kb_dev_3.yaml",
    # A fourth (persona: a village women's union head typing her members' questions, every entry asked
    # several ways).
    DATA / "kb_dev_4.yaml",
    # A fifth (persona: a workshop owner typing long messages without accents).
    DATA / "kb_dev_5.yaml",
    # A sixth (persona: a cooperative's accountant; a hundred near misses about other paperwork).
    DATA / "kb_dev_6.yaml",
    # A seventh (persona: a village producers' group chat, every register at once).
    DATA / "kb_dev_7.yaml",
    # An eighth: long messages of varied structure (the question first, two questions, a need).
    DATA / "kb_dev_8.yaml",
    # A ninth (persona: elderly producers dictating to voice-to-text, grandchildren typing for them).
    DATA / "kb_dev_9.yaml",
    # A tenth (persona: messages forwarded from producers' Zalo groups, an officer asking for a producer).
    DATA / "kb_dev_10.yaml",
    # An eleventh (persona: first-time users asking the first questions in many words) and a twelfth
    # (persona: producers who already have stars or a dossier under way).
    DATA / "kb_dev_11.yaml",
    DATA / "kb_dev_12.yaml",
    # Three more (2026-11-30, session 8), long messages at least half of each: households telling their
    # story first on Zalo (13), young people typing for their parents, the ask first (14), cooperative
    # directors and artisans writing formally (15). Their first figures: 97.9/100/98.0, 95.0/95.7/90.1 and
    # 99.6/97.9/99.1 (top-1, abstention, long).
    DATA / "kb_dev_13.yaml",
    DATA / "kb_dev_14.yaml",
    DATA / "kb_dev_15.yaml",
    # Two more written to the held-out sets' brief (the fact sheet and the entry titles alone, no persona;
    # a quarter long, a quarter teencode, most out-of-scope questions near misses). First figures:
    # 98.5/97.8/98.0 and 98.0/95.8/100.0.
    DATA / "kb_dev_16.yaml",
    DATA / "kb_dev_17.yaml",
    # Two more to the same brief (2026-12-01): young people typing for their parents in the villages of
    # Hòa Phú, Quảng Bị and Xuân Mai, often naming the old commune (18); small firms, cooperatives and a
    # commune officer on Zalo, formal or hurried (19). First figures: 98.1/100/98.4 and 98.7/97.8/100.0.
    DATA / "kb_dev_18.yaml",
    DATA / "kb_dev_19.yaml",
    # And two more (2026-12-01, later): older producers dictating to voice-to-text and their grandchildren
    # typing for them (20); producers who already hold stars, an officer, a relative asking about results
    # and the bot itself (21). First figures: 97.2/100/95.2 and 97.6/100/96.6.
    DATA / "kb_dev_20.yaml",
    DATA / "kb_dev_21.yaml",
    # Three more to the same brief (2026-12-01, session 11): first questions from the villages, typed fast
    # or told as a family's story (22); a commune officer, cooperatives and producers from other districts
    # about support, stars and the rules of 2025–2026 (23); grandchildren typing for elderly makers of
    # traditional products, voice-to-text and regional spellings (24). 22 questions asking which group a
    # named product belongs to are labelled by the knowledge base's convention (the product entry; the
    # writer's label kept as `writer:`). First figures: 98.0/100/96.4, 99.1/97.9/98.3, 96.1/100/94.2.
    DATA / "kb_dev_22.yaml",
    DATA / "kb_dev_23.yaml",
    DATA / "kb_dev_24.yaml",
    # Two more, at least half long messages (2026-12-01, session 11): producers telling their story first
    # and asking briefly (25); mixed registers with the question first, in the middle or last, the story
    # naming products, places and other programmes that are not what is asked (26). First figures:
    # 99.5/97.7/99.1 and 99.0/97.8/98.0.
    DATA / "kb_dev_25.yaml",
    DATA / "kb_dev_26.yaml",
    # Two more (2026-12-01, session 11, later): a third long and a third typed without any accent, on an old
    # phone (27); careful writers — officers, teachers, journalists — asking precise questions in words
    # other than the titles' (28). First figures: 99.0/100/97.1 and 94.9/100/94.0.
    DATA / "kb_dev_27.yaml",
    DATA / "kb_dev_28.yaml",
]


def load_eval(path: Path = EVAL_FILE) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    # A label names the entry as it was when the question was written: entries merged since then are
    # followed to the entry that answers them now (knowledge/data/merged.yaml); the questions are untouched.
    merged = load_merged()
    in_scope = [
        {
            "q": str(i["q"]),
            "entry": merged.get(str(i["entry"]), str(i["entry"])),
            "kind": str(i.get("kind") or "plain"),
        }
        for i in data.get("in_scope") or []
    ]
    out_scope = [
        {"q": str(i["q"]), "kind": str(i.get("kind") or "other")} for i in data.get("out_of_scope") or []
    ]
    return in_scope, out_scope


def _pct(num: int, den: int) -> float:
    return round(100.0 * num / den, 1) if den else 0.0


def evaluate_matcher(
    matcher: Matcher, in_scope: list[dict[str, str]], out_scope: list[dict[str, str]]
) -> dict[str, Any]:
    """Accuracy and abstention of the real matcher, overall and per kind; failures listed."""
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    correct = with_suggestions = ranked_first = 0
    failures: list[str] = []
    for item in in_scope:
        match = matcher.match(item["q"])
        ok = match.decision is Decision.ANSWER and match.entry_id == item["entry"]
        offered = [match.entry_id] if match.decision is Decision.ANSWER else [e for e, _ in match.choices]
        correct += ok
        ranked_first += match.entry_id == item["entry"]
        with_suggestions += item["entry"] in offered
        per_kind[item["kind"]][0] += ok
        per_kind[item["kind"]][1] += 1
        if not ok:
            failures.append(
                f"IN  {item['q']!r}: want {item['entry']}, got {match.decision.value} {match.entry_id} "
                f"{match.confidence:.2f} (evidence {match.evidence:.2f}"
                f"{', out of scope: ' + match.out_of_scope if match.out_of_scope else ''}) "
                f"{[e for e, _ in match.suggestions]}"
            )
    abstained = 0
    oos_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in out_scope:
        match = matcher.match(item["q"])
        ok = match.decision is not Decision.ANSWER
        abstained += ok
        oos_kind[item["kind"]][0] += ok
        oos_kind[item["kind"]][1] += 1
        if not ok:
            failures.append(f"OUT {item['q']!r}: answered {match.entry_id} {match.confidence:.2f}")
    return {
        "top1_in_scope": _pct(correct, len(in_scope)),
        "incl_suggestions": _pct(with_suggestions, len(in_scope)),
        "top1_without_cutoff": _pct(ranked_first, len(in_scope)),
        "abstention_out_of_scope": _pct(abstained, len(out_scope)),
        "per_kind_in_scope": {k: _pct(v[0], v[1]) for k, v in sorted(per_kind.items())},
        "per_kind_out_of_scope": {k: _pct(v[0], v[1]) for k, v in sorted(oos_kind.items())},
        "failures": failures,
    }


def _best_cutoff(
    in_scores: list[tuple[str | None, float, str]], out_scores: list[float], grid: list[float]
) -> dict[str, Any]:
    """The cut-off with the best mean of top-1 accuracy and abstention (answer when score >= cut-off)."""
    best: dict[str, Any] = {}
    for cut in grid:
        acc = sum(1 for got, score, want in in_scores if score >= cut and got == want)
        abst = sum(1 for score in out_scores if score < cut)
        top1 = _pct(acc, len(in_scores))
        abstention = _pct(abst, len(out_scores))
        balanced = (top1 + abstention) / 2
        if not best or balanced > best["balanced"]:
            best = {"cutoff": round(cut, 3), "top1_in_scope": top1, "abstention_out_of_scope": abstention}
            best["balanced"] = balanced
    best.pop("balanced", None)
    best["top1_without_cutoff"] = _pct(sum(1 for got, _, want in in_scores if got == want), len(in_scores))
    return best


def rapidfuzz_baseline(
    kb: KnowledgeBase,
    in_scope: list[dict[str, str]],
    out_scope: list[dict[str, str]],
    *,
    folded: bool = False,
) -> dict[str, Any]:
    """process.extractOne(raw question, every sample question) with default settings; with `folded`,
    a stronger variant: lowercase folded text and token_set_ratio."""
    choices: list[str] = []
    owners: list[str] = []
    for entry in kb.entries.values():
        for text in (entry.title, *entry.questions):
            choices.append(fold_text(text) if folded else text)
            owners.append(entry.id)

    def top(q: str) -> tuple[str | None, float]:
        if folded:
            best = process.extractOne(fold_text(q), choices, scorer=fuzz.token_set_ratio, processor=None)
        else:
            best = process.extractOne(q, choices)
        return (owners[best[2]], float(best[1])) if best else (None, 0.0)

    ins = [(*top(i["q"]), i["entry"]) for i in in_scope]
    outs = [top(i["q"])[1] for i in out_scope]
    return _best_cutoff(ins, outs, [float(c) for c in range(40, 100, 5)])


def bm25_baseline(
    kb: KnowledgeBase, in_scope: list[dict[str, str]], out_scope: list[dict[str, str]]
) -> dict[str, Any]:
    """BM25Okapi over folded tokens of every sample question; best sample's entry, own best threshold."""
    corpus: list[list[str]] = []
    owners: list[str] = []
    for entry in kb.entries.values():
        for text in (entry.title, *entry.questions):
            corpus.append(fold_text(text).split())
            owners.append(entry.id)
    bm25 = BM25Okapi(corpus)

    def top(q: str) -> tuple[str | None, float]:
        scores = bm25.get_scores(fold_text(q).split())
        index = int(scores.argmax())
        return owners[index], float(scores[index])

    ins = [(*top(i["q"]), i["entry"]) for i in in_scope]
    outs = [top(i["q"])[1] for i in out_scope]
    all_scores = sorted([s for _, s, _ in ins] + outs)
    grid = sorted({all_scores[int(p * (len(all_scores) - 1))] for p in [x / 40 for x in range(41)]})
    return _best_cutoff(ins, outs, grid)


def scaled_kb(kb: KnowledgeBase, factor: int, seed: int = 7) -> KnowledgeBase:
    """`factor`× the entries: perturbed copies (ids suffixed, words dropped/shuffled, a filler added), with
    their paraphrases perturbed alike."""
    rng = random.Random(seed)
    fillers = [
        "nhỉ",
        "thế nào",
        "cụ thể",
        "hiện nay",
        "bên mình",
        "ở xã",
        "năm nay",
        "cho hộ",
        "với sản phẩm",
    ]

    def perturbed(q: str, copy: int) -> str:
        words = q.split()
        if len(words) > 3:
            words.pop(rng.randrange(len(words)))
        if len(words) > 2 and rng.random() < 0.5:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        words.insert(rng.randrange(len(words) + 1), rng.choice(fillers))
        return " ".join(words) + f" {copy}"

    entries = dict(kb.entries)
    paraphrases = dict(kb.paraphrases)
    for copy in range(1, factor):
        for entry in kb.entries.values():
            new_id = f"{entry.id}-x{copy}"
            questions = tuple(perturbed(q, copy) for q in entry.questions)
            entries[new_id] = replace(entry, id=new_id, questions=questions, related=())
            if entry.id in kb.paraphrases:
                paraphrases[new_id] = tuple(perturbed(q, copy) for q in kb.paraphrases[entry.id])
    return KnowledgeBase(
        entries=entries,
        sources=kb.sources,
        problems=[],
        data_dir=kb.data_dir,
        out_of_scope=kb.out_of_scope,
        paraphrases=paraphrases,
    )


def latency(matcher: Matcher, questions: list[str], runs: int) -> dict[str, float]:
    """p50/p99 per-question latency in ms (median over `runs` runs)."""
    p50s, p99s = [], []
    for q in questions[:20]:  # warm caches (typo repair) the way a running bot would be
        matcher.match(q)
    for _ in range(runs):
        times = []
        for q in questions:
            t0 = time.perf_counter()
            matcher.match(q)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p50s.append(times[len(times) // 2])
        p99s.append(times[min(len(times) - 1, int(len(times) * 0.99))])
    return {"p50_ms": round(statistics.median(p50s), 3), "p99_ms": round(statistics.median(p99s), 3)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench kb")
    parser.add_argument("--quick", action="store_true", help="fewer latency runs (under a minute)")
    parser.add_argument("--json", action="store_true", help="print all figures as one JSON line at the end")
    parser.add_argument("--failures", action="store_true", help="list the questions the matcher gets wrong")
    parser.add_argument("--eval", type=Path, default=EVAL_FILE)
    parser.add_argument(
        "--heldout", type=Path, action="append", default=None, help="held-out set (repeatable)"
    )
    args = parser.parse_args(argv)
    # The build times are training times: no model is loaded from (or left in) the model cache.
    os.environ[MODEL_CACHE_ENV] = "off"

    kb = load_knowledge_base()
    in_scope, out_scope = load_eval(args.eval)
    unknown = sorted({i["entry"] for i in in_scope} - set(kb.entries))
    t0 = time.perf_counter()
    matcher = Matcher(kb)
    build_ms = (time.perf_counter() - t0) * 1000
    ours = evaluate_matcher(matcher, in_scope, out_scope)
    failures = ours.pop("failures")
    # Ablation: the lexical half alone (no classifier), same thresholds.
    lexical_matcher = Matcher(kb, classifier=False)
    lexical = evaluate_matcher(lexical_matcher, in_scope, out_scope)
    lexical.pop("failures")
    heldout: dict[str, dict[str, Any]] = {}
    heldout_lexical: dict[str, dict[str, Any]] = {}
    missing_heldout = [path.name for path in args.heldout or HELDOUT_FILES if not path.exists()]
    for path in args.heldout or HELDOUT_FILES:
        if not path.exists():
            continue
        held_in, held_out = load_eval(path)
        # Aggregates only: no failures, no counts, no out-of-scope topic names (the set is not for tuning).
        for target, which in ((heldout, matcher), (heldout_lexical, lexical_matcher)):
            figures = evaluate_matcher(which, held_in, held_out)
            figures.pop("failures")
            figures.pop("per_kind_out_of_scope")
            target[path.name] = figures
    dev: dict[str, dict[str, Any]] = {}
    dev_failures: dict[str, list[str]] = {}
    for path in DEV_FILES:
        if path.exists():
            dev[path.name] = evaluate_matcher(matcher, *load_eval(path))
            dev_failures[path.name] = dev[path.name].pop("failures")
    fuzz_base = rapidfuzz_baseline(kb, in_scope, out_scope)
    fuzz_folded = rapidfuzz_baseline(kb, in_scope, out_scope, folded=True)
    bm25_base = bm25_baseline(kb, in_scope, out_scope)

    runs = 3 if args.quick else 7
    questions = [i["q"] for i in in_scope] + [i["q"] for i in out_scope]
    lat_1x = latency(matcher, questions, runs)
    big_kb = scaled_kb(kb, 10)
    rss_before = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    big = Matcher(big_kb)
    build_10x_ms = (time.perf_counter() - t0) * 1000
    big_mb = (psutil.Process().memory_info().rss - rss_before) / 2**20
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    lat_10x = latency(big, questions, runs)

    samples = sum(len(e.questions) + 1 for e in kb.entries.values())
    result = {
        "entries": len(kb.entries),
        "samples": samples,
        "in_scope": len(in_scope),
        "out_of_scope": len(out_scope),
        "matcher": ours,
        "matcher_lexical_only": lexical,
        "baseline_rapidfuzz_extractone": fuzz_base,
        "baseline_rapidfuzz_folded_token_set": fuzz_folded,
        "baseline_bm25": bm25_base,
        "latency_1x": lat_1x,
        "latency_10x": lat_10x,
        "index_build_ms": {"1x": round(build_ms, 1), "10x": round(build_10x_ms, 1)},
        "eval_entries_missing_from_kb": unknown,
        "heldout": heldout,
        "heldout_lexical_only": heldout_lexical,
        "dev": dev,
        "index_10x_rss_mb": round(big_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(f"KB: {len(kb.entries)} entries, {samples} samples; eval: {len(in_scope)} in, {len(out_scope)} out")
    if unknown:
        print(f"WARNING: eval names entries the KB lacks: {', '.join(unknown)}")
    print(
        f"{'method':38} {'top-1 in scope':>15} {'incl. sugg.':>12} {'abstention':>11} {'rank-1 (no cut)':>16}"
    )
    print(
        f"{'matcher (ours)':38} {ours['top1_in_scope']:>14}% {ours['incl_suggestions']:>11}% "
        f"{ours['abstention_out_of_scope']:>10}% {ours['top1_without_cutoff']:>15}%"
    )
    print(
        f"{'  lexical half alone (ablation)':38} {lexical['top1_in_scope']:>14}% "
        f"{lexical['incl_suggestions']:>11}% {lexical['abstention_out_of_scope']:>10}% "
        f"{lexical['top1_without_cutoff']:>15}%"
    )
    for name, base in (
        (f"rapidfuzz extractOne (cut {fuzz_base['cutoff']})", fuzz_base),
        (f"rapidfuzz folded token_set (cut {fuzz_folded['cutoff']})", fuzz_folded),
        (f"BM25Okapi folded (cut {bm25_base['cutoff']:.2f})", bm25_base),
    ):
        print(
            f"{name:38} {base['top1_in_scope']:>14}% {'-':>12} {base['abstention_out_of_scope']:>10}% "
            f"{base['top1_without_cutoff']:>15}%"
        )
    print("per kind, in scope:     " + ", ".join(f"{k} {v}%" for k, v in ours["per_kind_in_scope"].items()))
    print(
        "per kind, out of scope: " + ", ".join(f"{k} {v}%" for k, v in ours["per_kind_out_of_scope"].items())
    )
    for name, figures in dev.items():
        print(
            f"{'dev (' + name + ')':38} "
            f"{figures['top1_in_scope']:>14}% {figures['incl_suggestions']:>11}% "
            f"{figures['abstention_out_of_scope']:>10}% {figures['top1_without_cutoff']:>15}%"
        )
        kinds = figures["per_kind_in_scope"]
        print("  per kind, in scope: " + ", ".join(f"{k} {v}%" for k, v in kinds.items()))
    for name, held in heldout.items():
        lex = heldout_lexical[name]
        print(
            f"{'held-out (' + name + ')':38} "
            f"{held['top1_in_scope']:>14}% {held['incl_suggestions']:>11}% "
            f"{held['abstention_out_of_scope']:>10}% {held['top1_without_cutoff']:>15}%"
        )
        print(
            f"{'  lexical half alone (ablation)':38} {lex['top1_in_scope']:>14}% "
            f"{lex['incl_suggestions']:>11}% {lex['abstention_out_of_scope']:>10}% "
            f"{lex['top1_without_cutoff']:>15}%"
        )
        print("  per kind, in scope: " + ", ".join(f"{k} {v}%" for k, v in held["per_kind_in_scope"].items()))
    for name in missing_heldout:
        print(f"held-out: {name} not found")
    print(
        f"latency per question: 1× p50 {lat_1x['p50_ms']} ms, p99 {lat_1x['p99_ms']} ms; "
        f"10× ({len(big.entry_ids)} entries) p50 {lat_10x['p50_ms']} ms, p99 {lat_10x['p99_ms']} ms "
        f"(median of {runs} runs); index build 1× {build_ms:.0f} ms, 10× {build_10x_ms:.0f} ms "
        f"(+{big_mb:.0f} MB RSS; peak RSS of this run {peak_mb:.0f} MB)"
    )
    if args.failures:
        print("\n".join(failures))
        for name, found in dev_failures.items():
            print(f"dev ({name}):")
            print("\n".join(found))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0
