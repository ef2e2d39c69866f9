"""Correct answers written the many ways students write them, and honest single mistakes.

``tests/course/test_fair_variants.py`` grades every variant through ``w2s grade``. A variant is one
simulated student: ``answers`` replaces answer cells (by grade id) of an otherwise solved
submission. A *fair* variant (no ``loses``) must get full marks on every question. A
*mistake* variant makes honest, isolated mistakes; ``loses`` maps the test cells they belong
to onto the score each must get — every other question keeps its full points, so a mistake
never costs more than its own question.

The styles covered: other idioms (loops instead of numpy, tuples and lists instead of sets,
lower-case letters, stray spaces), numbers typed at the precision a cell prints them, numpy
scalars and dtypes where a float or an int array is asked, and the course library called
instead of re-implemented (which also checks that ``w2s.metrics``, ``w2s.cascade``,
``w2s.selection``, ``w2s.proxy``, ``w2s.losses`` (with ``balanced_hard_labels``) and
``w2s.bootstrap`` (its ``relabel`` hop) pass the hidden tests of the questions
that teach them).
"""

PS1 = "ps1-measuring-weak-to-strong"
PS2 = "ps2-weak-to-strong-pipeline"
PS3 = "ps3-confidence-loss"
PS4 = "ps4-cascades-and-data-selection"

VARIANTS = {
    PS1: {
        "numpy-and-printed-precision": {
            "answers": {
                "metrics-answer": "import numpy as np\n"
                                  "p_weak, p_weak_to_strong, p_ceiling = np.float64(0.64), np.float32(0.812), np.float64(0.905)\n"
                                  "metric_order = ('p_weak', 'p_weak_to_strong', 'p_ceiling')",
                "steps-answer": "measurement_order = ['d', 'b', 'e', 'a', 'c']",
                "pgr-answer": "import numpy as np\n\n"
                              "def pgr(p_weak, p_weak_to_strong, p_ceiling):\n"
                              "    values = np.array([p_weak, p_weak_to_strong, p_ceiling], dtype=float)\n"
                              "    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):\n"
                              "        raise ValueError('accuracies must be fractions in [0, 1]')\n"
                              "    w, s, c = values\n"
                              "    if c <= w:\n"
                              "        raise ValueError('no gap to recover')\n"
                              "    return (s - w) / (c - w)",
                # the ratio of differences does not care whether the table is in percent
                "table-answer": "def pgr_from_table(table):\n"
                                "    return {k: (v - table[k.split(' -> ')[0]]) / (table[k.split(' -> ')[1]] - table[k.split(' -> ')[0]])\n"
                                "            for k, v in table.items() if ' -> ' in k}",
                "gpt4-answer": "gpt2_to_gpt4_pgr = 0.31",
                "gain-answer": "import numpy as np\n\n"
                               "def confidence_loss_gain(medians):\n"
                               "    return {name: np.float64(row['logconf']) - np.float64(row['xent']) for name, row in medians.items()}",
                "interpretation-answer": "interpretation_85 = 'c'",
                "misconception-answer": "true_statements = ['A', 'C', 'D', 'F']",
            },
        },
        "library-call": {
            "answers": {
                "metrics-answer": "p_weak = 0.64\np_weak_to_strong = 0.812\np_ceiling = 0.905\n"
                                  "metric_order = ['p_weak', 'p_weak_to_strong', 'p_ceiling']",
                "pgr-answer": "import w2s.metrics\n\n"
                              "def pgr(p_weak, p_weak_to_strong, p_ceiling):\n"
                              "    return w2s.metrics.pgr(p_weak, p_weak_to_strong, p_ceiling)",
                "gpt4-answer": "gpt2_to_gpt4_pgr = round(pgr(0.61, 0.70, 0.90), 2)",
                "interpretation-answer": "interpretation_85 = ' C '",
                "misconception-answer": "true_statements = frozenset('ACDF')",
            },
        },
        "other-idioms": {
            "answers": {
                "pgr-answer": "def pgr(p_weak, p_weak_to_strong, p_ceiling):\n"
                              "    args = []\n"
                              "    for value in (p_weak, p_weak_to_strong, p_ceiling):\n"
                              "        try:\n"
                              "            value = float(value)\n"
                              "        except (TypeError, ValueError):\n"
                              "            raise ValueError(f'{value!r} is not a number')\n"
                              "        if not math.isfinite(value) or value < 0 or value > 1:\n"
                              "            raise ValueError(f'{value} is not a fraction in [0, 1]')\n"
                              "        args.append(value)\n"
                              "    weak, student, ceiling = args\n"
                              "    if not ceiling > weak:\n"
                              "        raise ValueError('PGR undefined')\n"
                              "    return (student - weak) / (ceiling - weak)",
                "table-answer": "def pgr_from_table(table):\n"
                                "    out = {}\n"
                                "    for key in table:\n"
                                "        parts = key.split(' -> ')\n"
                                "        if len(parts) == 2:\n"
                                "            out[key] = pgr(table[parts[0]] / 100, table[key] / 100, table[parts[1]] / 100)\n"
                                "    return out",
                "gpt4-answer": "gpt2_to_gpt4_pgr = 0.3103",
                "gain-answer": "def confidence_loss_gain(medians):\n"
                               "    gains = {}\n"
                               "    for name in medians:\n"
                               "        gains[name] = medians[name]['logconf'] - medians[name]['xent']\n"
                               "    return gains",
                "misconception-answer": "true_statements = {'a', 'c', 'd', 'f'}",
            },
        },
        "honest-mistakes": {
            "answers": {
                # clips the PGR into [0, 1]: Question 3's values; the table question is graded
                # with a correct pgr standing in and keeps its points
                "pgr-answer": "def pgr(p_weak, p_weak_to_strong, p_ceiling):\n"
                              "    for v in (p_weak, p_weak_to_strong, p_ceiling):\n"
                              "        if not (0 <= v <= 1):\n"
                              "            raise ValueError('fractions in [0, 1]')\n"
                              "    if p_ceiling <= p_weak:\n"
                              "        raise ValueError('no gap')\n"
                              "    return min(1.0, max(0.0, (p_weak_to_strong - p_weak) / (p_ceiling - p_weak)))",
                # rounded too coarsely
                "gpt4-answer": "gpt2_to_gpt4_pgr = 0.3",
                # one wrong letter of six: statement B taken for true
                "misconception-answer": "true_statements = {'A', 'B', 'C', 'D', 'F'}",
            },
            "loses": {"pgr-values-test": 0, "gpt4-test": 0, "misconception-test": 2 * 4 / 6},
        },
    },
    PS2: {
        "numpy-types": {
            "answers": {
                "train-weak-answer": "def train_weak(split, weak_name, seed):\n"
                                     "    model = WeakModel(weak_name, seed=seed)\n"
                                     "    model.fit(split.x_a, split.y_a)\n"
                                     "    p_weak = (model.predict(split.x_test) == split.y_test).mean()  # a numpy float\n"
                                     "    return model, p_weak, model.predict_proba(split.x_b).astype(np.float32)",
                "analysis-answer": "def weak_error_analysis(weak_pred, student_pred, y_true):\n"
                                   "    w, s, y = np.asarray(weak_pred), np.asarray(student_pred), np.asarray(y_true)\n"
                                   "    gain = np.mean(s == y) - np.mean(w == y)\n"
                                   "    mistakes = np.flatnonzero(w != y)\n"
                                   "    if mistakes.size == 0:\n"
                                   "        return {'student_gain': gain, 'fixed_weak_errors': np.nan, 'copied_weak_errors': np.nan}\n"
                                   "    return {'student_gain': gain,\n"
                                   "            'fixed_weak_errors': np.mean(s[mistakes] == y[mistakes]),\n"
                                   "            'copied_weak_errors': np.mean(s[mistakes] == w[mistakes])}",
                "systematic-answer": "copies_more = ' pca-3'",
                "why-copied-answer": "why_copied = 'b'",
                # the library's own bootstrapping hop (w2s.bootstrap.relabel), which must pass
                # the hidden tests of the question that teaches it
                "bootstrap-answer": "from dataclasses import replace\n"
                                    "from w2s.bootstrap import relabel\n"
                                    "from w2s.experiment import Config\n\n"
                                    "def bootstrap(split, weak_labels, intermediate_name, strong_name, seed, epochs):\n"
                                    "    hop = Config(track='vision', dataset=split.name, strong=intermediate_name, mode='probe', epochs=epochs)\n"
                                    "    new_labels, _ = relabel(hop, split, weak_labels, seed)\n"
                                    "    _, strong_accuracy = relabel(replace(hop, strong=strong_name), split, new_labels, seed)\n"
                                    "    return new_labels, np.float64(strong_accuracy)",
            },
        },
        "other-idioms": {
            "answers": {
                "train-student-answer": "def train_student_on(split, targets, strong_name, seed, epochs):\n"
                                        "    torch.manual_seed(seed)\n"
                                        "    n_features = split.x_a.shape[1]\n"
                                        "    model = StrongModel(strong_name, n_features, split.n_classes)\n"
                                        "    model.body = load_body(split.name, strong_name, n_features)\n"
                                        "    model, history = train_student(model, split.x_b, targets, options=TrainOptions(mode='probe', epochs=epochs, seed=seed))\n"
                                        "    predictions = predict_proba(model, split.x_test).argmax(1)\n"
                                        "    correct = sum(int(p == t) for p, t in zip(predictions.tolist(), split.y_test.tolist()))\n"
                                        "    return model, correct / len(split.y_test)",
                "weak-to-strong-answer": "def weak_to_strong(split, weak_name, strong_name, seed, epochs):\n"
                                         "    weak_model, p_weak, weak_labels = train_weak(split, weak_name, seed)\n"
                                         "    metrics = {'p_weak': p_weak}\n"
                                         "    metrics['p_weak_to_strong'] = train_student_on(split, weak_labels, strong_name, seed, epochs)[1]\n"
                                         "    truth = one_hot(split.y_b, split.n_classes)\n"
                                         "    metrics['p_ceiling'] = train_student_on(split, truth, strong_name, seed, epochs)[1]\n"
                                         "    metrics['pgr'] = (metrics['p_weak_to_strong'] - p_weak) / (metrics['p_ceiling'] - p_weak)\n"
                                         "    return metrics",
                "analysis-answer": "def weak_error_analysis(weak_pred, student_pred, y_true):\n"
                                   "    triples = list(zip(weak_pred.tolist(), student_pred.tolist(), y_true.tolist()))\n"
                                   "    n = len(triples)\n"
                                   "    gain = (sum(s == y for w, s, y in triples) - sum(w == y for w, s, y in triples)) / n\n"
                                   "    mistakes = [(w, s, y) for w, s, y in triples if w != y]\n"
                                   "    if not mistakes:\n"
                                   "        return {'student_gain': gain, 'fixed_weak_errors': math.nan, 'copied_weak_errors': math.nan}\n"
                                   "    return {'student_gain': gain,\n"
                                   "            'fixed_weak_errors': sum(s == y for w, s, y in mistakes) / len(mistakes),\n"
                                   "            'copied_weak_errors': sum(s == w for w, s, y in mistakes) / len(mistakes)}",
            },
        },
        "library-pieces": {
            "answers": {
                # bootstrap written straight with the library, without train_student_on
                "bootstrap-answer": "def bootstrap(split, weak_labels, intermediate_name, strong_name, seed, epochs):\n"
                                    "    def fit(targets, name):\n"
                                    "        torch.manual_seed(seed)\n"
                                    "        model = StrongModel(name, split.x_b.shape[1], split.n_classes)\n"
                                    "        model.body = load_body(split.name, name, split.x_b.shape[1])\n"
                                    "        return train_student(model, split.x_b, targets, options=TrainOptions(mode='probe', epochs=epochs, seed=seed))[0]\n"
                                    "    middle = fit(weak_labels, intermediate_name)\n"
                                    "    relabelled = predict_proba(middle, split.x_b)\n"
                                    "    strong = fit(relabelled, strong_name)\n"
                                    "    return relabelled, accuracy(predict_proba(strong, split.x_test).argmax(1), split.y_test)",
                "systematic-answer": "copies_more = 'pca-3'",
                "why-copied-answer": "why_copied = ' B'",
            },
        },
        "honest-mistakes": {
            "answers": {
                # hard labels instead of the weak model's probabilities: only Question 1;
                # the pipeline and bootstrap questions are graded with correct pieces
                "train-weak-answer": "def train_weak(split, weak_name, seed):\n"
                                     "    model = WeakModel(weak_name, seed=seed).fit(split.x_a, split.y_a)\n"
                                     "    p_weak = accuracy(model.predict(split.x_test), split.y_test)\n"
                                     "    return model, p_weak, one_hot(model.predict(split.x_b), split.n_classes)",
                # fixed errors counted over every example
                "analysis-answer": "def weak_error_analysis(weak_pred, student_pred, y_true):\n"
                                   "    w, s, y = map(np.asarray, (weak_pred, student_pred, y_true))\n"
                                   "    wrong = w != y\n"
                                   "    if not wrong.any():\n"
                                   "        return {'student_gain': float((s == y).mean() - (w == y).mean()), 'fixed_weak_errors': float('nan'), 'copied_weak_errors': float('nan')}\n"
                                   "    return {'student_gain': float((s == y).mean() - (w == y).mean()),\n"
                                   "            'fixed_weak_errors': float((s == y).mean()),\n"
                                   "            'copied_weak_errors': float((s[wrong] == w[wrong]).mean())}",
            },
            "loses": {"train-weak-test": 0, "analysis-test": 0},
        },
    },
    PS3: {
        "other-idioms": {
            "answers": {
                "xent-answer": "def soft_cross_entropy(logits, target_probs):\n"
                               "    per_example = torch.sum(-target_probs * torch.log_softmax(logits, dim=1), dim=1)\n"
                               "    return per_example.sum() / logits.shape[0]",
                "warmup-answer": "def warmup_alpha(step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                 "    if step_frac < 0 or step_frac > 1:\n"
                                 "        raise ValueError('step_frac is a fraction of training in [0, 1]')\n"
                                 "    if warmup_frac <= 0 or step_frac >= warmup_frac:\n"
                                 "        return alpha_max\n"
                                 "    return alpha_max * step_frac / warmup_frac",
                "harden-answer": "def harden_binary(p_positive, positive_fraction):\n"
                                 "    n = len(p_positive)\n"
                                 "    k = round(positive_fraction * n)\n"
                                 "    order = sorted(range(n), key=lambda i: -p_positive[i])\n"
                                 "    hard = np.zeros(n, dtype=int)\n"
                                 "    hard[order[:k]] = 1\n"
                                 "    return hard",
                "kd-answer": "def distillation_loss(student_logits, teacher_logits, hard_labels, temperature=2.0, alpha=0.5):\n"
                             "    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),\n"
                             "                    F.softmax(teacher_logits / temperature, dim=-1), reduction='batchmean')\n"
                             "    hard = F.cross_entropy(student_logits, hard_labels)\n"
                             "    return alpha * temperature ** 2 * soft + (1 - alpha) * hard",
                "why-confidence-answer": "why_confidence = 'b'",
            },
        },
        "printed-precision-and-numpy": {
            "answers": {
                "warmup-answer": "def warmup_alpha(step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                 "    if not 0 <= step_frac <= 1:\n"
                                 "        raise ValueError('step_frac must be in [0, 1]')\n"
                                 "    return np.float64(alpha_max) * (np.clip(step_frac / warmup_frac, 0, 1) if warmup_frac > 0 else 1.0)",
                # best_pgr typed from the printed table, two decimals
                # the winner read off the table, its PGR typed at the two decimals it prints
                "best-loss-answer": "best_loss = max(loss_results, key=lambda k: loss_results[k]['pgr'])\n"
                                    "best_pgr = float(f\"{loss_results[best_loss]['pgr']:.2f}\")",
            },
        },
        "library-call": {
            "answers": {
                "confidence-answer": "def confidence_loss(logits, weak_probs, step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                     "    return w2s.losses.ConfidenceLoss(alpha_max, warmup_frac)(logits, weak_probs, step_frac)",
                "kd-answer": "def distillation_loss(student_logits, teacher_logits, hard_labels, temperature=2.0, alpha=0.5):\n"
                             "    return w2s.losses.distillation_loss(student_logits, teacher_logits, hard_labels, temperature, alpha)",
                # the library's balanced hardening for two classes (w2s.losses.balanced_hard_labels)
                "harden-answer": "import w2s.losses\n\n"
                                 "def harden_binary(p_positive, positive_fraction):\n"
                                 "    p = torch.as_tensor(np.asarray(p_positive, dtype=np.float64))\n"
                                 "    hard = w2s.losses.balanced_hard_labels(torch.stack([1 - p, p], dim=1),\n"
                                 "                                           torch.tensor([1 - positive_fraction, positive_fraction], dtype=torch.float64))\n"
                                 "    return hard[:, 1].numpy().astype(np.int64)",
                "best-loss-answer": "best_loss = max(loss_results, key=lambda k: loss_results[k]['pgr'])\n"
                                    "best_pgr = np.float64(loss_results[best_loss]['pgr'])",
            },
        },
        "honest-mistakes": {
            "answers": {
                # the reference code's warm-up: only Question 2; the confidence loss is graded
                # with a correct warm-up standing in
                "warmup-answer": "def warmup_alpha(step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                 "    if not 0 <= step_frac <= 1:\n        raise ValueError('step_frac')\n"
                                 "    return float(alpha_max * (1.0 if step_frac > 0.1 else step_frac))",
                # KL the wrong way round
                "kd-answer": "def distillation_loss(student_logits, teacher_logits, hard_labels, temperature=2.0, alpha=0.5):\n"
                             "    t = temperature\n"
                             "    kl = F.kl_div(F.log_softmax(teacher_logits / t, -1), F.softmax(student_logits / t, -1), reduction='batchmean')\n"
                             "    return alpha * t * t * kl + (1 - alpha) * F.cross_entropy(student_logits, hard_labels)",
                # the wrong loss named, but its PGR read right off the table
                "best-loss-answer": "best_loss = 'xent'\nbest_pgr = round(max(r['pgr'] for r in loss_results.values()), 2)",
            },
            "loses": {"warmup-test": 0, "kd-test": 0, "best-loss-test": 0},
        },
    },
    PS4: {
        "numpy-types-and-precision": {
            "answers": {
                "cascade-answer": "def cascade(small_probs, large_probs, threshold):\n"
                                  "    confidence = np.max(small_probs, axis=1)\n"
                                  "    deferred = confidence < threshold\n"
                                  "    predictions = np.argmax(small_probs, axis=1).astype(np.int32)\n"
                                  "    predictions[deferred] = np.argmax(large_probs, axis=1)[deferred]\n"
                                  "    return predictions, deferred",
                "cost-answer": "def cascade_cost(deferred, small_cost, large_cost):\n"
                               "    return small_cost + large_cost * np.mean(deferred)",
                "select-answer": "def select_confident(weak_probs, keep_fraction):\n"
                                 "    confidence = np.max(weak_probs, axis=1)\n"
                                 "    n_keep = max(1, int(np.floor(keep_fraction * len(confidence) + 0.5)))\n"
                                 "    return np.sort(np.argsort(-confidence, kind='stable')[:n_keep])",
                "versus-random-answer": "beats_random = np.bool_(True)\nmore_skewed = 'Confident'",
                "strategy-answer": "strategic_advantage = 'b'",
                "deferred-share-answer": "deferred_share = round(float(np.mean(np.max(small_probs, axis=1) < 0.5)), 2)",
                "small-helps-large-answer": "small_helps_large = ['A', 'B', 'D', 'F']",
            },
        },
        "library-call": {
            "answers": {
                "cascade-answer": "from w2s.cascade import cascade_predict\n\n"
                                  "def cascade(small_probs, large_probs, threshold):\n"
                                  "    return cascade_predict(small_probs, large_probs, threshold)",
                "select-answer": "import w2s.selection\n\n"
                                 "def select_confident(weak_probs, keep_fraction):\n"
                                 "    return w2s.selection.select_confident(weak_probs, keep_fraction)",
                "report-answer": "def kept_label_report(weak_probs, y_true, kept):\n"
                                 "    report = w2s.selection.selection_report(weak_probs, kept, y_true)\n"
                                 "    return {'label_accuracy': report['label_accuracy'], 'class_shift': report['class_shift']}",
                "proxy-answer": "import w2s.proxy\n\n"
                                "def proxy_tune(large_probs, small_tuned_probs, small_base_probs):\n"
                                "    return w2s.proxy.proxy_tune(large_probs, small_tuned_probs, small_base_probs)",
                "deferred-share-answer": "deferred_share = float(cascade(small_probs, large_probs, 0.5)[1].mean())",
            },
        },
        "other-idioms": {
            "answers": {
                "threshold-answer": "def choose_threshold(small_probs, large_probs, y_true, thresholds, min_accuracy, budget, small_cost, large_cost):\n"
                                    "    ok = []\n"
                                    "    for position, t in enumerate(thresholds):\n"
                                    "        pred, deferred = cascade(small_probs, large_probs, t)\n"
                                    "        cost = cascade_cost(deferred, small_cost, large_cost)\n"
                                    "        if np.mean(pred == y_true) >= min_accuracy and cost <= budget:\n"
                                    "            ok.append((cost, position, t))\n"
                                    "    return min(ok)[2] if ok else None",
                "report-answer": "def kept_label_report(weak_probs, y_true, kept):\n"
                                 "    k = len(weak_probs[0])\n"
                                 "    kept = list(kept)\n"
                                 "    right = sum(int(np.argmax(weak_probs[i]) == y_true[i]) for i in kept)\n"
                                 "    shift = 0.0\n"
                                 "    for c in range(k):\n"
                                 "        share_kept = sum(1 for i in kept if y_true[i] == c) / len(kept)\n"
                                 "        share_all = sum(1 for y in y_true if y == c) / len(y_true)\n"
                                 "        shift += abs(share_kept - share_all) / 2\n"
                                 "    return {'label_accuracy': right / len(kept), 'class_shift': shift}",
                "proxy-answer": "def proxy_tune(large_probs, small_tuned_probs, small_base_probs):\n"
                                "    raw = large_probs * small_tuned_probs / small_base_probs\n"
                                "    return raw / raw.sum(axis=1, keepdims=True)",
                "small-helps-large-answer": "small_helps_large = {'a', 'b', 'd', 'f'}",
            },
        },
        "honest-mistakes": {
            "answers": {
                # defers at the threshold too: only Question 1; choose_threshold is graded
                # with a correct cascade standing in
                "cascade-answer": "def cascade(small_probs, large_probs, threshold):\n"
                                  "    s, l = np.asarray(small_probs), np.asarray(large_probs)\n"
                                  "    deferred = s.max(1) <= threshold\n"
                                  "    return np.where(deferred, l.argmax(1), s.argmax(1)), deferred",
                # Python's round: 17 at 0.5 keeps 8, the statement says 9
                "select-answer": "def select_confident(weak_probs, keep_fraction):\n"
                                 "    conf = np.asarray(weak_probs).max(1)\n"
                                 "    return np.sort(np.argsort(-conf, kind='stable')[:max(1, round(keep_fraction * len(conf)))])",
                # one wrong letter of six (C)
                "small-helps-large-answer": "small_helps_large = {'A', 'B', 'C', 'D', 'F'}",
            },
            "loses": {"cascade-test": 0, "select-test": 0, "small-helps-large-test": 3 * 4 / 6},
        },
    },
}
