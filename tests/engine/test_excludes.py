"""Exclude rules: secrets always, caches by default, the user's ~/.drivesyncignore on top."""

from __future__ import annotations

import os

import pytest

from jupyter_drive_sync.home.excludes import DEFAULT_EXCLUDES, IGNORE_FILE_NAME, Excludes


@pytest.mark.parametrize(
    "rel,is_dir",
    [
        (".local/share/jupyter/drive_sync", True),
        (".ssh", True),
        (".gnupg", True),
        (".netrc", False),
        (".git-credentials", False),
        (".config/gcloud", True),
        (".config/rclone", True),
        (".aws", True),
        (".kube", True),
        (".docker/config.json", False),
        # secrets copied somewhere deeper are still secrets
        ("backup/.ssh", True),
        ("old/home/.config/gcloud", True),
        ("proj/.netrc", False),
        # Jupyter's own secrets: server tokens, kernel keys, the notebook-trust key
        (".local/share/jupyter/runtime", True),
        (".local/share/jupyter/notebook_secret", False),
        (".local/share/jupyter/nbsignatures.db", False),
        (".ipython/profile_default/security", True),
    ],
)
def test_always_excluded(rel, is_dir):
    ex = Excludes()
    reason = ex.why(rel, is_dir)
    assert reason is not None and reason.startswith("always excluded")


def test_state_dir_rule_is_anchored_at_the_home():
    ex = Excludes()
    assert ex.why("project/.local/share/jupyter/drive_sync", True) is None


@pytest.mark.parametrize(
    "rel,is_dir",
    [
        (".cache", True),
        ("work/.ipynb_checkpoints", True),
        ("a/b/__pycache__", True),
        ("web/node_modules", True),
        ("proj/.venv", True),
        ("proj/venv", True),
        (".conda", True),
        (".local/lib", True),
        (".npm", True),
        (".yarn", True),
        (".local/share/Trash", True),
    ],
)
def test_default_excluded(rel, is_dir):
    assert Excludes().why(rel, is_dir).startswith("excluded by default")


@pytest.mark.parametrize(
    "rel,is_dir",
    [
        ("notebook.ipynb", False),
        ("work/.cache", True),  # only the home's .cache is a cache by default
        (".config", True),
        (".config/jupyter", True),
        (".docker", True),
        (".docker/other.json", False),
        ("ssh", True),
        (".local/share/jupyter", True),
        (".local/share/jupyter/drive_sync_notes.txt", False),
        ("my.venv", True),
    ],
)
def test_included(rel, is_dir):
    assert Excludes().why(rel, is_dir) is None


def test_defaults_are_configurable_but_secrets_are_not():
    ex = Excludes(defaults=["data"])
    assert ex.why(".cache", True) is None
    assert ex.why("x/data", True).startswith("excluded by default")
    assert ex.why(".ssh", True).startswith("always excluded")
    assert Excludes(defaults=()).why("node_modules", True) is None


def test_user_rules_gitignore_syntax(tmp_path):
    (tmp_path / IGNORE_FILE_NAME).write_text(
        "# comment\n\n*.log\n!keep.log\n/big/\nresults/**/*.csv\nscratch\n"
    )
    ex = Excludes.for_home(tmp_path)
    assert ex.problems == []
    assert "*.log" in ex.why("a/run.log", False)
    assert ex.why("a/keep.log", False) is None
    assert "/big/" in ex.why("big", True)
    assert ex.why("big", False) is None  # a trailing slash matches folders only
    assert ex.why("sub/big", True) is None  # a leading slash anchors at the home
    assert ex.why("results/x/y/t.csv", False) is not None
    assert ex.why("results/t.txt", False) is None
    assert ex.why("deep/scratch", True) is not None
    assert ex.why("deep/scratch", False) is not None


def test_user_can_reinclude_a_default_but_not_a_secret(tmp_path):
    (tmp_path / IGNORE_FILE_NAME).write_text("!.cache\n!.ssh\n!node_modules/\n")
    ex = Excludes.for_home(tmp_path)
    assert ex.why(".cache", True) is None
    assert ex.why("web/node_modules", True) is None
    assert ex.why(".ssh", True).startswith("always excluded")
    assert ex.why("__pycache__", True) is not None


def test_extra_rules_from_config(tmp_path):
    ex = Excludes.for_home(tmp_path, extra=["*.tmp", "/datasets/"])
    assert ex.why("x.tmp", False) and ex.why("datasets", True)
    assert ex.why("a/datasets", True) is None


def test_broken_rule_file_is_reported_not_fatal(tmp_path):
    (tmp_path / IGNORE_FILE_NAME).write_bytes(b"*.log\n!\n\xff\xfebad\n")
    ex = Excludes.for_home(tmp_path)
    assert ex.why("x.log", False) is not None  # the good rule still applies
    text = "\n".join(ex.problems)
    assert "not valid UTF-8" in text
    assert "rule 2 '!' ignored" in text


def test_unreadable_rule_file_is_reported(tmp_path):
    (tmp_path / IGNORE_FILE_NAME).mkdir()
    ex = Excludes.for_home(tmp_path)
    assert ex.problems and "not a regular file" in ex.problems[0]
    assert ex.why("x", False) is None


def test_rule_file_symlink_is_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("*\n")
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(outside, home / IGNORE_FILE_NAME)
    ex = Excludes.for_home(home)
    assert ex.why("anything", False) is None
    assert ex.problems and "cannot read" in ex.problems[0]


def test_no_rule_file_means_no_problems(tmp_path):
    ex = Excludes.for_home(tmp_path)
    assert ex.problems == [] and not ex.has_user_rules


def test_default_list_matches_the_design():
    names = {r.strip("/") for r in DEFAULT_EXCLUDES}
    assert names == {".cache", ".ipynb_checkpoints", "__pycache__", "node_modules", ".venv", "venv", ".conda",
                     ".local/lib", ".npm", ".yarn", ".local/share/Trash"}
