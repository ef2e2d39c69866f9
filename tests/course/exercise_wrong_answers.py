"""Realistic wrong answers to every autograded question of the assignments.

Each batch is one simulated student: ``answers`` replaces answer cells (by grade id) of an
otherwise correct submission; every test in ``fails`` must then score 0, every test in
``partial`` must score exactly the points given there (per-letter credit on multi-select
questions), every test in ``ignore`` is not asserted (it depends on a wrong answer of the
same batch in a way that is not the point), and every other test must keep its full points.
Questions that build on earlier answers are graded with correct versions standing in, so a
wrong answer loses only its own question's points even where a later question uses it.
"""

PS1 = "ps1-measuring-weak-to-strong"
PS2 = "ps2-weak-to-strong-pipeline"
PS3 = "ps3-confidence-loss"
PS4 = "ps4-cascades-and-data-selection"

PGR_NO_CHECKS = '''
def pgr(p_weak, p_weak_to_strong, p_ceiling):
    return float((p_weak_to_strong - p_weak) / (p_ceiling - p_weak))
'''

PGR_CLIPPED = '''
def pgr(p_weak, p_weak_to_strong, p_ceiling):
    for value in (p_weak, p_weak_to_strong, p_ceiling):
        if math.isnan(value) or not 0 <= value <= 1:
            raise ValueError("accuracies are fractions in [0, 1]")
    if p_ceiling <= p_weak:
        raise ValueError("no gap to recover")
    return float(min(1.0, max(0.0, (p_weak_to_strong - p_weak) / (p_ceiling - p_weak))))
'''

BATCHES = {
    PS1: [
        {
            "answers": {
                # training accuracy and agreement instead of test accuracies; order swapped
                "metrics-answer": "p_weak = 0.702\np_weak_to_strong = 0.873\np_ceiling = 0.905\n"
                                  "metric_order = ['p_weak', 'p_ceiling', 'p_weak_to_strong']",
                "steps-answer": "measurement_order = ['D', 'E', 'B', 'A', 'C']",
                "pgr-answer": PGR_CLIPPED,
                "gain-answer": "def confidence_loss_gain(medians):\n"
                               "    return {k: float(v['xent'] - v['logconf']) for k, v in medians.items()}",
                "interpretation-answer": "interpretation_85 = 'B'",
                "misconception-answer": "true_statements = {'A', 'C', 'D'}",
            },
            # pgr_from_table is graded with a correct pgr standing in: the clipped pgr costs
            # only Question 3; one missing letter of six keeps 2 * (5 - 1) / 6 points
            "fails": ["metrics-test", "metric-order-test", "steps-test", "pgr-values-test",
                      "gain-test", "interpretation-test"],
            "partial": {"misconception-test": 2 * 4 / 6},
        },
        {
            "answers": {
                # percentages instead of fractions
                "metrics-answer": "p_weak = 64.0\np_weak_to_strong = 81.2\np_ceiling = 90.5\n"
                                  "metric_order = ['p_weak', 'p_weak_to_strong', 'p_ceiling']",
                # includes the step that trains on the test labels
                "steps-answer": "measurement_order = ['D', 'B', 'E', 'A', 'F', 'C']",
                "pgr-answer": PGR_NO_CHECKS,
                # the gap still remaining instead of the gap recovered
                "table-answer": "def pgr_from_table(table):\n    out = {}\n"
                                "    for key, acc in table.items():\n"
                                "        if ' -> ' in key:\n"
                                "            weak, strong = key.split(' -> ')\n"
                                "            out[key] = (table[strong] - acc) / (table[strong] - table[weak])\n"
                                "    return out",
                "gpt4-answer": "gpt2_to_gpt4_pgr = (0.90 - 0.70) / (0.90 - 0.61)",
                "interpretation-answer": "interpretation_85 = 'E'",
                "misconception-answer": "true_statements = {'A', 'B', 'C', 'D', 'F'}",
            },
            # one wrong letter (B) of six
            "fails": ["metrics-test", "steps-test", "pgr-errors-test", "table-test", "gpt4-test",
                      "interpretation-test"],
            "partial": {"misconception-test": 2 * 4 / 6},
        },
        {
            "answers": {
                # hard-coded to the visible example
                "pgr-answer": "def pgr(p_weak, p_weak_to_strong, p_ceiling):\n"
                              "    if p_ceiling <= p_weak:\n        raise ValueError('no gap')\n"
                              "    return 0.5",
                "gpt4-answer": "gpt2_to_gpt4_pgr = 31.0",
            },
            "fails": ["pgr-values-test", "pgr-errors-test", "gpt4-test"],
        },
        {
            # cheats: shadowed built-ins and objects that compare equal to anything
            "answers": {
                "metrics-answer": "def abs(x):\n    return 0.0\n\ndef type(x):\n    return float\n\n"
                                  "p_weak, p_weak_to_strong, p_ceiling = 0.1, 0.2, 0.3\n"
                                  "metric_order = ['p_weak', 'p_weak_to_strong', 'p_ceiling']",
                "steps-answer": "class AnyList(list):\n    def __eq__(self, other):\n        return True\n\n"
                                "measurement_order = AnyList(['A'])",
                "pgr-answer": "class AnyFloat(float):\n    def __eq__(self, other):\n        return True\n"
                              "    def __lt__(self, other):\n        return True\n"
                              "    def __sub__(self, other):\n        return self\n"
                              "    def __abs__(self):\n        return 0.0\n\n"
                              "def pgr(p_weak, p_weak_to_strong, p_ceiling):\n    return AnyFloat(0.5)",
                "interpretation-answer": "class AnyStr(str):\n    def __eq__(self, other):\n        return True\n"
                                         "    __hash__ = str.__hash__\n\ninterpretation_85 = AnyStr('A')",
                "misconception-answer": "class AnySet(set):\n    def __eq__(self, other):\n        return True\n\n"
                                        "true_statements = AnySet({'A'})",
            },
            # pgr_from_table itself is right (graded with a correct pgr standing in); the
            # cheating set is read as the plain set {'A'}: three letters right, three wrong
            "fails": ["metrics-test", "steps-test", "pgr-values-test", "pgr-errors-test",
                      "gpt4-test", "interpretation-test", "misconception-test"],
        },
    ],
    PS2: [
        {
            "answers": {
                # P_weak measured on the weak model's own training data
                "train-weak-answer": "def train_weak(split, weak_name, seed):\n"
                                     "    weak_model = WeakModel(weak_name, seed=seed).fit(split.x_a, split.y_a)\n"
                                     "    p_weak = accuracy(weak_model.predict(split.x_a), split.y_a)\n"
                                     "    return weak_model, p_weak, weak_model.predict_proba(split.x_b)",
                # trained on the ground truth instead of the targets it was given
                "train-student-answer": "def train_student_on(split, targets, strong_name, seed, epochs):\n"
                                        "    torch.manual_seed(seed)\n"
                                        "    n = split.x_b.shape[1]\n"
                                        "    student = StrongModel(strong_name, n, split.n_classes)\n"
                                        "    student.body = load_body(split.name, strong_name, n)\n"
                                        "    student, _ = train_student(student, split.x_b, one_hot(split.y_b, split.n_classes), options=TrainOptions(mode='probe', epochs=epochs, seed=seed))\n"
                                        "    return student, accuracy(predict_proba(student, split.x_test).argmax(1), split.y_test)",
                # fixed errors counted over every example, not only the weak model's mistakes
                "analysis-answer": "def weak_error_analysis(weak_pred, student_pred, y_true):\n"
                                   "    w, s, y = map(np.asarray, (weak_pred, student_pred, y_true))\n"
                                   "    wrong = w != y\n"
                                   "    return {'student_gain': float((s == y).mean() - (w == y).mean()),\n"
                                   "            'fixed_weak_errors': float((s == y).mean()),\n"
                                   "            'copied_weak_errors': float((s[wrong] == w[wrong]).mean()) if wrong.any() else float('nan')}",
                "systematic-answer": "copies_more = 'noisy-0.8'",
            },
            # weak_to_strong and bootstrap are graded with correct train_weak and
            # train_student_on standing in, so they keep their points
            "fails": ["train-weak-test", "train-student-test", "analysis-test", "systematic-test"],
        },
        {
            "answers": {
                # the "ceiling" trained on the weak labels too
                "weak-to-strong-answer": "def weak_to_strong(split, weak_name, strong_name, seed, epochs):\n"
                                         "    _, p_weak, weak_labels = train_weak(split, weak_name, seed)\n"
                                         "    _, p_w2s = train_student_on(split, weak_labels, strong_name, seed, epochs)\n"
                                         "    _, p_ceiling = train_student_on(split, weak_labels, strong_name, seed + 1, epochs)\n"
                                         "    return {'p_weak': p_weak, 'p_weak_to_strong': p_w2s, 'p_ceiling': p_ceiling,\n"
                                         "            'pgr': (p_w2s - p_weak) / (p_ceiling - p_weak)}",
                # "copied" counted as any wrong student prediction
                "analysis-answer": "def weak_error_analysis(weak_pred, student_pred, y_true):\n"
                                   "    w, s, y = map(np.asarray, (weak_pred, student_pred, y_true))\n"
                                   "    wrong = w != y\n"
                                   "    if not wrong.any():\n"
                                   "        return {'student_gain': float((s == y).mean() - (w == y).mean()), 'fixed_weak_errors': float('nan'), 'copied_weak_errors': float('nan')}\n"
                                   "    return {'student_gain': float((s == y).mean() - (w == y).mean()),\n"
                                   "            'fixed_weak_errors': float((s[wrong] == y[wrong]).mean()),\n"
                                   "            'copied_weak_errors': float((s[wrong] != y[wrong]).mean())}",
                "why-copied-answer": "why_copied = 'C'",
                # hard labels from the intermediate instead of its probabilities
                "bootstrap-answer": "def bootstrap(split, weak_labels, intermediate_name, strong_name, seed, epochs):\n"
                                    "    mid, _ = train_student_on(split, weak_labels, intermediate_name, seed, epochs)\n"
                                    "    labels = one_hot(predict_proba(mid, split.x_b).argmax(1), split.n_classes)\n"
                                    "    _, acc = train_student_on(split, labels, strong_name, seed, epochs)\n"
                                    "    return labels, acc",
            },
            "fails": ["weak-to-strong-test", "analysis-test", "why-copied-test", "bootstrap-test"],
        },
        {
            "answers": {
                # hard (one-hot) labels instead of the weak model's probabilities
                "train-weak-answer": "def train_weak(split, weak_name, seed):\n"
                                     "    weak_model = WeakModel(weak_name, seed=seed).fit(split.x_a, split.y_a)\n"
                                     "    p_weak = accuracy(weak_model.predict(split.x_test), split.y_test)\n"
                                     "    return weak_model, p_weak, one_hot(weak_model.predict(split.x_b), split.n_classes)",
                # every weight trained instead of a probe on the frozen pretrained body
                "train-student-answer": "def train_student_on(split, targets, strong_name, seed, epochs):\n"
                                        "    torch.manual_seed(seed)\n"
                                        "    n = split.x_b.shape[1]\n"
                                        "    student = StrongModel(strong_name, n, split.n_classes)\n"
                                        "    student.body = load_body(split.name, strong_name, n)\n"
                                        "    student, _ = train_student(student, split.x_b, targets, options=TrainOptions(mode='finetune', epochs=epochs, seed=seed))\n"
                                        "    return student, accuracy(predict_proba(student, split.x_test).argmax(1), split.y_test)",
                # the gap that remains instead of the gap recovered
                "weak-to-strong-answer": "def weak_to_strong(split, weak_name, strong_name, seed, epochs):\n"
                                         "    _, p_weak, weak_labels = train_weak(split, weak_name, seed)\n"
                                         "    _, p_w2s = train_student_on(split, weak_labels, strong_name, seed, epochs)\n"
                                         "    _, p_ceiling = train_student_on(split, one_hot(split.y_b, split.n_classes), strong_name, seed, epochs)\n"
                                         "    return {'p_weak': p_weak, 'p_weak_to_strong': p_w2s, 'p_ceiling': p_ceiling,\n"
                                         "            'pgr': (p_ceiling - p_w2s) / (p_ceiling - p_weak)}",
                # the strong student trained on the weak labels: no hop at all
                "bootstrap-answer": "def bootstrap(split, weak_labels, intermediate_name, strong_name, seed, epochs):\n"
                                    "    mid, _ = train_student_on(split, weak_labels, intermediate_name, seed, epochs)\n"
                                    "    _, acc = train_student_on(split, weak_labels, strong_name, seed, epochs)\n"
                                    "    return weak_labels, acc",
            },
            "fails": ["train-weak-test", "train-student-test", "weak-to-strong-test", "bootstrap-test"],
        },
    ],
    PS3: [
        {
            "answers": {
                # summed over the batch instead of averaged
                "xent-answer": "def soft_cross_entropy(logits, target_probs):\n"
                               "    return -(target_probs * F.log_softmax(logits, dim=-1)).sum()",
                # the reference code's schedule
                "warmup-answer": "def warmup_alpha(step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                 "    if not 0 <= step_frac <= 1:\n        raise ValueError('step_frac')\n"
                                 "    return float(alpha_max * (1.0 if step_frac > 0.1 else step_frac))",
                # plain argmax hardening, ignoring the weak labels' balance
                "harden-answer": "def harden_binary(p_positive, positive_fraction):\n"
                                 "    return (np.asarray(p_positive) >= 0.5).astype(np.int64)",
                # without the T^2 factor
                "kd-answer": "def distillation_loss(student_logits, teacher_logits, hard_labels, temperature=2.0, alpha=0.5):\n"
                             "    t = temperature\n"
                             "    kl = F.kl_div(F.log_softmax(student_logits / t, -1), F.softmax(teacher_logits / t, -1), reduction='batchmean')\n"
                             "    return alpha * kl + (1 - alpha) * F.cross_entropy(student_logits, hard_labels)",
                "why-confidence-answer": "why_confidence = 'C'",
            },
            # confidence_loss is graded with correct soft_cross_entropy and warmup_alpha
            # standing in, so it keeps its points
            "fails": ["xent-test", "warmup-test", "harden-test", "kd-test", "why-confidence-test"],
        },
        {
            "answers": {
                # the mixing weights swapped
                "confidence-answer": "def confidence_loss(logits, weak_probs, step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                     "    alpha = warmup_alpha(step_frac, alpha_max, warmup_frac)\n"
                                     "    with torch.no_grad():\n"
                                     "        hard = balanced_hard_labels(torch.softmax(logits, -1), weak_probs.mean(0))\n"
                                     "        target = alpha * weak_probs + (1 - alpha) * hard\n"
                                     "    return soft_cross_entropy(logits, target)",
                # KL in the wrong direction
                "kd-answer": "def distillation_loss(student_logits, teacher_logits, hard_labels, temperature=2.0, alpha=0.5):\n"
                             "    t = temperature\n"
                             "    kl = F.kl_div(F.log_softmax(teacher_logits / t, -1), F.softmax(student_logits / t, -1), reduction='batchmean')\n"
                             "    return alpha * t * t * kl + (1 - alpha) * F.cross_entropy(student_logits, hard_labels)",
                # floor instead of round
                "harden-answer": "def harden_binary(p_positive, positive_fraction):\n"
                                 "    p = np.asarray(p_positive)\n"
                                 "    hard = np.zeros(len(p), dtype=np.int64)\n"
                                 "    k = int(positive_fraction * len(p))\n"
                                 "    if k:\n        hard[np.argsort(-p)[:k]] = 1\n"
                                 "    return hard",
                # the loss with the highest PGR misread, and its PGR with it
                "best-loss-answer": "best_loss = 'xent'\nbest_pgr = loss_results['xent']['pgr']",
            },
            "fails": ["confidence-test", "kd-test", "harden-test", "best-loss-test", "best-pgr-test"],
        },
        {
            "answers": {
                # argmax hardening instead of the balanced one
                "confidence-answer": "def confidence_loss(logits, weak_probs, step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                     "    alpha = warmup_alpha(step_frac, alpha_max, warmup_frac)\n"
                                     "    with torch.no_grad():\n"
                                     "        hard = F.one_hot(logits.argmax(-1), logits.shape[-1]).float()\n"
                                     "        target = (1 - alpha) * weak_probs + alpha * hard\n"
                                     "    return soft_cross_entropy(logits, target)",
                # the least confident examples get the positive label
                "harden-answer": "def harden_binary(p_positive, positive_fraction):\n"
                                 "    p = np.asarray(p_positive)\n"
                                 "    hard = np.zeros(len(p), dtype=np.int64)\n"
                                 "    k = int(round(positive_fraction * len(p)))\n"
                                 "    if k:\n        hard[np.argsort(p)[:k]] = 1\n"
                                 "    return hard",
                # no warm-up at all
                "warmup-answer": "def warmup_alpha(step_frac, alpha_max=0.5, warmup_frac=0.2):\n"
                                 "    if not 0 <= step_frac <= 1:\n        raise ValueError('step_frac')\n"
                                 "    return 0.0 if step_frac == 0 else float(alpha_max)",
            },
            "fails": ["confidence-test", "harden-test", "warmup-test"],
        },
        {
            "answers": {
                # the PGR as a percentage, and mean instead of batchmean in the KL
                "best-loss-answer": "best_loss = max(loss_results, key=lambda k: loss_results[k]['pgr'])\n"
                                    "best_pgr = 100 * loss_results[best_loss]['pgr']",
                "kd-answer": "def distillation_loss(student_logits, teacher_logits, hard_labels, temperature=2.0, alpha=0.5):\n"
                             "    t = temperature\n"
                             "    kl = F.kl_div(F.log_softmax(student_logits / t, -1), F.softmax(teacher_logits / t, -1), reduction='mean')\n"
                             "    return alpha * t * t * kl + (1 - alpha) * F.cross_entropy(student_logits, hard_labels)",
            },
            "fails": ["best-pgr-test", "kd-test"],
        },
    ],
    PS4: [
        {
            "answers": {
                # defers when the confidence equals the threshold
                "cascade-answer": "def cascade(small_probs, large_probs, threshold):\n"
                                  "    s, l = np.asarray(small_probs), np.asarray(large_probs)\n"
                                  "    deferred = s.max(1) <= threshold\n"
                                  "    return np.where(deferred, l.argmax(1), s.argmax(1)), deferred",
                # the least confident examples
                "select-answer": "def select_confident(weak_probs, keep_fraction):\n"
                                 "    conf = np.asarray(weak_probs).max(1)\n"
                                 "    return np.sort(np.argsort(conf)[:int(round(keep_fraction * len(conf)))])",
                "strategy-answer": "strategic_advantage = 'D'",
                "small-helps-large-answer": "small_helps_large = {'A', 'B', 'C', 'D', 'F'}",
            },
            # choose_threshold is graded with a correct cascade standing in; one wrong
            # letter (C) of six keeps 3 * (5 - 1) / 6 points
            "fails": ["cascade-test", "select-test", "strategy-test"],
            "partial": {"small-helps-large-test": 3 * 4 / 6},
        },
        {
            "answers": {
                # the most accurate threshold rather than the cheapest
                "threshold-answer": "def choose_threshold(small_probs, large_probs, y_true, thresholds, min_accuracy, budget, small_cost, large_cost):\n"
                                    "    best, best_acc = None, -1.0\n"
                                    "    for t in thresholds:\n"
                                    "        pred, deferred = cascade(small_probs, large_probs, t)\n"
                                    "        acc = float((pred == np.asarray(y_true)).mean())\n"
                                    "        cost = cascade_cost(deferred, small_cost, large_cost)\n"
                                    "        if acc >= min_accuracy and cost <= budget and acc > best_acc:\n"
                                    "            best, best_acc = t, acc\n"
                                    "    return best",
                # floor instead of round
                "select-answer": "def select_confident(weak_probs, keep_fraction):\n"
                                 "    conf = np.asarray(weak_probs).max(1)\n"
                                 "    return np.sort(np.argsort(-conf)[:int(keep_fraction * len(conf))])",
                # a count instead of a share
                "deferred-share-answer": "deferred_share = float((small_probs.max(axis=1) < 0.5).sum())",
                # the labels' accuracy over every example, not the kept ones
                "report-answer": "def kept_label_report(weak_probs, y_true, kept):\n"
                                 "    p, y = np.asarray(weak_probs), np.asarray(y_true)\n"
                                 "    k = p.shape[1]\n"
                                 "    shift = 0.5 * np.abs(np.bincount(y[kept], minlength=k) / len(kept) - np.bincount(y, minlength=k) / len(y)).sum()\n"
                                 "    return {'label_accuracy': float((p.argmax(1) == y).mean()), 'class_shift': float(shift)}",
            },
            "fails": ["threshold-test", "select-test", "deferred-share-test", "report-test"],
        },
        {
            "answers": {
                # a deferred query pays only for the large model
                "cost-answer": "def cascade_cost(deferred, small_cost, large_cost):\n"
                               "    d = np.asarray(deferred, dtype=float)\n"
                               "    return float(((1 - d) * small_cost + d * large_cost).mean())",
                # defers the confident queries
                "cascade-answer": "def cascade(small_probs, large_probs, threshold):\n"
                                  "    s, l = np.asarray(small_probs), np.asarray(large_probs)\n"
                                  "    deferred = s.max(1) >= threshold\n"
                                  "    return np.where(deferred, l.argmax(1), s.argmax(1)), deferred",
                # the class shift measured on the weak labels instead of the true classes
                "report-answer": "def kept_label_report(weak_probs, y_true, kept):\n"
                                 "    p, y = np.asarray(weak_probs), np.asarray(y_true)\n"
                                 "    k, w = p.shape[1], p.argmax(1)\n"
                                 "    shift = 0.5 * np.abs(np.bincount(w[kept], minlength=k) / len(kept) - np.bincount(w, minlength=k) / len(w)).sum()\n"
                                 "    return {'label_accuracy': float((w[kept] == y[kept]).mean()), 'class_shift': float(shift)}",
                "versus-random-answer": "beats_random = False\nmore_skewed = 'random'",
            },
            "fails": ["cost-test", "cascade-test", "report-test", "beats-random-test", "more-skewed-test"],
        },
        {
            "answers": {
                # hard-coded to the visible examples
                "cascade-answer": "def cascade(small_probs, large_probs, threshold):\n"
                                  "    return np.array([0, 0, 1]), np.array([False, False, False])",
                "select-answer": "def select_confident(weak_probs, keep_fraction):\n"
                                 "    return np.array([1, 3])",
                # base minus tuned: steers the large model the wrong way
                "proxy-answer": "def proxy_tune(large_probs, small_tuned_probs, small_base_probs):\n"
                                "    s = np.log(large_probs) + np.log(small_base_probs) - np.log(small_tuned_probs)\n"
                                "    e = np.exp(s - s.max(1, keepdims=True))\n"
                                "    return e / e.sum(1, keepdims=True)",
            },
            "fails": ["cascade-test", "select-test", "proxy-test"],
        },
    ],
}
