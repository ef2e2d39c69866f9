"""Data sets: deterministic, disjoint splits; checksums verified on load."""

import shutil

import numpy as np
import pytest

from w2s import data


FEATURE_SETS = sorted(set(data.DATASETS) - {"lm"})


@pytest.mark.parametrize("name", FEATURE_SETS)
def test_splits_are_disjoint_and_cover_the_data(name):
    s = data.load(name, seed=3)
    n = len(s.y_a) + len(s.y_b) + len(s.y_test)
    other = data.load(name, seed=4)
    assert n == len(other.y_a) + len(other.y_b) + len(other.y_test)
    assert abs(len(s.y_a) - len(s.y_b)) <= 1
    assert s.x_a.dtype == np.float32 and s.y_a.dtype == np.int64
    assert set(np.unique(s.y_test)) == set(range(s.n_classes))


def test_lm_split_has_the_protocol_sizes_and_token_ids():
    s = data.load("lm", seed=3)
    assert (len(s.y_a), len(s.y_b), len(s.y_test)) == (500, 1000, 2000)
    assert s.x_a.dtype == np.int64 and s.x_a.shape[1] == 49 and (s.x_a[:, 0] == 48).all()
    assert s.x_a[:, 1:].max() < 48 and s.n_classes == 2
    assert 0.4 < s.y_b.mean() < 0.6


def test_corpus_cues_behave_as_designed():
    from sklearn.linear_model import LogisticRegression

    from w2s import corpus

    train, test = corpus.generate(1500, 5), corpus.generate(2000, 0, corpus.TEST_STREAM)
    # the easy cue is right on ~70 % of sequences; the hard cue, read by hand, on nearly all
    assert 0.65 < (test.easy_cue == test.y).mean() < 0.75
    hard = LogisticRegression(max_iter=2000).fit(corpus.bigram_matches(train.tokens), train.y)
    assert hard.score(corpus.bigram_matches(test.tokens), test.y) > 0.97
    bag = LogisticRegression(max_iter=2000).fit(corpus.bag_of_tokens(train.tokens), train.y)
    assert 0.65 < bag.score(corpus.bag_of_tokens(test.tokens), test.y) < 0.85
    again = corpus.generate(1500, 5)
    assert np.array_equal(again.tokens, train.tokens) and np.array_equal(again.y, train.y)
    assert not np.array_equal(corpus.generate(1500, 6).tokens, train.tokens)


def test_latent_parts_share_no_example():
    s = data.load("latent", seed=2)
    parts = [{r.tobytes() for r in part} for part in (s.x_a, s.x_b, s.x_test)]
    assert sum(map(len, parts)) == len(s.y_a) + len(s.y_b) + len(s.y_test)  # rows unique
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])


def test_digits_partition_is_exact():
    from sklearn.datasets import load_digits

    raw = load_digits()
    s = data.load("digits", seed=1)
    assert len(s.y_a) + len(s.y_b) + len(s.y_test) == len(raw.target)
    # every original row appears exactly as often as in the source
    def counts(x):
        keys, c = np.unique((x * 16).round().astype(int), axis=0, return_counts=True)
        return {tuple(k): v for k, v in zip(keys, c)}
    merged = counts(np.concatenate([s.x_a, s.x_b, s.x_test]))
    assert merged == counts(raw.data / 16.0)


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_splits_are_deterministic_and_seeded(name):
    a, b, c = data.load(name, 0), data.load(name, 0), data.load(name, 1)
    assert np.array_equal(a.x_a, b.x_a) and np.array_equal(a.y_b, b.y_b)
    assert np.array_equal(a.x_test, c.x_test)      # test set fixed across seeds
    assert not np.array_equal(a.y_a, c.y_a) or not np.array_equal(a.x_a, c.x_a)


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        data.load("imagenet")


def test_latent_generator_is_deterministic_and_matches_stored_copy():
    x, y = data.generate_latent()
    stored = data.load("latent", 0)
    assert len(y) == len(stored.y_a) + len(stored.y_b) + len(stored.y_test)
    x2, y2 = data.generate_latent()
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.array_equal(np.load(data.DATA_DIR / "latent/y.npy"), y)


def test_every_recorded_checksum_matches():
    sums = data.read_checksums()
    assert sums, "data/SHA256SUMS is empty"
    for name, digest in sums.items():
        assert data.sha256(data.DATA_DIR / name) == digest, name


@pytest.fixture
def scratch_data_dir(tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(data.DATA_DIR, copy)
    monkeypatch.setattr(data, "DATA_DIR", copy)
    monkeypatch.setattr(data, "CHECKSUMS", copy / "SHA256SUMS")
    return copy


def test_corrupted_file_names_the_file_and_the_fix(scratch_data_dir):
    target = scratch_data_dir / "latent/x.npy"
    target.write_bytes(target.read_bytes()[:-8] + b"garbage!")
    with pytest.raises(data.DataIntegrityError) as err:
        data.load("latent", 0)
    assert "data/latent/x.npy" in str(err.value) and "w2s pretrain" in str(err.value)


def test_missing_file_is_a_clear_error(scratch_data_dir):
    (scratch_data_dir / "latent/y.npy").unlink()
    with pytest.raises(data.DataIntegrityError, match="missing"):
        data.load("latent", 0)


def test_corrupted_weights_are_refused(scratch_data_dir):
    from w2s.pretrain import load_body

    path = scratch_data_dir / "pretrained/digits-mlp-small.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(data.DataIntegrityError, match="digits-mlp-small.pt"):
        load_body("digits", "mlp-small", 64)


def test_corrupted_lm_weights_are_refused(scratch_data_dir):
    from w2s.pretrain import load_lm

    (scratch_data_dir / "pretrained/lm-s.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(data.DataIntegrityError, match="lm-s.pt"):
        load_lm("lm-s")
