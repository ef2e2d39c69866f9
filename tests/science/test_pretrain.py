"""Pre-training: repeatable, and it makes features a linear probe can use."""

import numpy as np
import torch

from w2s import data
from w2s.models import StrongModel
from w2s.pretrain import augment, load_body, nt_xent, pretrain_body
from w2s.train import TrainOptions, encode, one_hot, predict_proba, train_student


def test_pretraining_is_repeatable():
    split = data.load("digits", 0)
    a = pretrain_body(split, "mlp-small", epochs=3)
    b = pretrain_body(split, "mlp-small", epochs=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_nt_xent_prefers_matching_pairs():
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    matched = nt_xent(z, z + 0.01 * torch.randn(16, 8))
    shuffled = nt_xent(z, z[torch.randperm(16)])
    assert matched < shuffled


def test_augment_keeps_shape_and_changes_values():
    x = torch.rand(5, 64)
    out = augment(x, torch.Generator().manual_seed(0), (8, 8))
    assert out.shape == x.shape and not torch.equal(out, x)


def test_stored_bodies_beat_random_bodies_as_frozen_features():
    split = data.load("digits", 0)
    accs = {}
    for name, body in (("pretrained", load_body("digits", "mlp-small", 64)), ("random", None)):
        torch.manual_seed(0)
        model = StrongModel("mlp-small", 64, 10)
        if body is not None:
            model.body = body
        train_student(model, split.x_b, one_hot(split.y_b, 10), "xent", TrainOptions(epochs=30))
        accs[name] = float((predict_proba(model, split.x_test).argmax(1) == split.y_test).mean())
    assert accs["pretrained"] > accs["random"] + 0.05, accs


def test_next_token_pretraining_is_repeatable_and_learns():
    from w2s import corpus
    from w2s.pretrain import make_lm, next_token_pretrain

    tokens = corpus.generate(640, 0, corpus.PRETRAIN_STREAM).tokens
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(next_token_pretrain(make_lm("lm-s"), tokens, epochs=1))
    assert all(torch.equal(x, y) for x, y in zip(runs[0].state_dict().values(),
                                                 runs[1].state_dict().values()))


def test_pretrained_lm_features_expose_the_hidden_class():
    """The check COURSE.md asks for before any W2S number: a linear probe on the pretrained
    LM's pooled states recovers the hidden class far better than on a random-init body."""
    from sklearn.linear_model import LogisticRegression

    from w2s.pretrain import load_lm, make_lm

    split = data.load("lm", 100)        # the validation seed, never a reported seed
    scores = {}
    torch.manual_seed(0)
    for name, body in (("pretrained", load_lm("lm-m")), ("random", make_lm("lm-m"))):
        clf = LogisticRegression(max_iter=3000).fit(encode(body, split.x_b).numpy(), split.y_b)
        scores[name] = clf.score(encode(body, split.x_test).numpy(), split.y_test)
    assert scores["pretrained"] > 0.95 and scores["pretrained"] > scores["random"] + 0.08, scores
