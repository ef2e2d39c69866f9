"""How the language-model track's fine-tune recipe was chosen: on validation data only.

    .venv/bin/python benchmarks/choose_lm_finetune.py

Seed 100 (no headline run uses it) gives A and B; the candidates are scored on 2,000 fresh
sequences from a stream no split draws from (stream 9), never on the test set. For each
(lr, epochs), the pretrained and the random-init lm-l are fully fine-tuned on lm-s's weak
labels of B, and the pretrained one's ceiling on B's ground truth. The recipe in
``w2s.registry.TRACKS["lm"].recipe["finetune"]`` is the one whose pretrained student did best
on the weak labels (measured 2026-12-02: lr 3e-4, 3 epochs, 0.950; the earlier lr 1e-3,
5 epochs gave 0.889).
"""

from __future__ import annotations

from dataclasses import replace

from w2s import corpus, data
from w2s.experiment import Config, make_student, train_weak
from w2s.metrics import accuracy
from w2s.train import one_hot, predict_proba, train_student

SEED, VAL_STREAM, N_VAL = 100, 9, 2000
CANDIDATES = [(1e-3, 5), (3e-4, 5), (1e-3, 3), (3e-4, 3)]


def score(cfg: Config, split, targets) -> float:
    model = make_student(cfg, split, SEED)
    model, _ = train_student(model, split.x_b, targets, cfg.make_loss(), cfg.train_options(SEED))
    return accuracy(predict_proba(model, split.x_test).argmax(1), split.y_test)


def main() -> None:
    split = data.load("lm", SEED)
    val = corpus.generate(N_VAL, SEED, VAL_STREAM)
    split = replace(split, x_test=val.tokens, y_test=val.y)   # validation, not test
    weak = train_weak(Config(track="lm"), split, SEED)
    weak_labels = weak.predict_proba(split.x_b)
    print(f"seed {SEED}, {N_VAL} validation sequences; P_weak {accuracy(weak.predict(split.x_test), split.y_test):.3f}\n")
    print("| lr | epochs | pretrained on weak labels | random init on weak labels | difference | pretrained ceiling |")
    print("|---|---|---|---|---|---|")
    for lr, epochs in CANDIDATES:
        pre = Config(track="lm", mode="finetune", lr=lr, epochs=epochs)
        none = replace(pre, pretrain="none")
        a, b = score(pre, split, weak_labels), score(none, split, weak_labels)
        ceiling = score(pre, split, one_hot(split.y_b, split.n_classes))
        print(f"| {lr:g} | {epochs} | {a:.3f} | {b:.3f} | {a - b:+.3f} | {ceiling:.3f} |", flush=True)


if __name__ == "__main__":
    main()
