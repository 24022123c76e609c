"""Where weights are found: the search path of ``gausslib.generators.zoo``, and a non-editable install
that loads the shipped generators from any working directory (issue 17)."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gausslib.generators import Generator, StyleGAN2Config, load, zoo

ROOT = Path(__file__).resolve().parents[1]
# What a build reads: the packaging files, the package, and the weights it maps in as package data.
BUILD_INPUTS = ["pyproject.toml", "README.md", "gausslib", "data/weights"]


def test_packaged_packages_are_the_source_tree():
    """pyproject.toml lists the packages (the weights' mapped package forbids `packages.find`): every
    folder of gausslib with an __init__.py, plus gausslib._weights."""
    import tomllib

    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "gausslib").rglob("__init__.py")}
    assert sorted(listed) == sorted(found | {"gausslib._weights"})


@pytest.mark.slow
def test_non_editable_install_loads_the_shipped_generators_and_runs_a_study(tmp_path):
    src, site, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "elsewhere"
    for rel in BUILD_INPUTS:
        if (ROOT / rel).is_dir():
            shutil.copytree(ROOT / rel, src / rel, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, src / rel)
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                          "--quiet", "--target", str(site), str(src)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    elsewhere.mkdir()
    script = textwrap.dedent(f"""
        import gausslib
        from pathlib import Path
        from gausslib.generators import load, zoo
        assert Path(gausslib.__file__).is_relative_to({str(site)!r}), gausslib.__file__
        for name in ("stylegan2-phantom64-smooth", "glow-phantom64"):
            model = load(name)
            path, _ = zoo.resolve(name)
            assert path.is_relative_to({str(site)!r}), path
            print(name, model.resolution)
    """)
    # PYTHONPATH puts the installed copy ahead of this checkout's editable install; an empty user cache.
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    env.pop("GAUSSLIB_WEIGHTS", None)
    run = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["stylegan2-phantom64-smooth", "64", "glow-phantom64", "64"]
    # A one-image quick study from outside the repository writes its records to ./results, never into
    # site-packages.
    study = subprocess.run([sys.executable, "-m", "gausslib.study", "deblur", "--methods", "spherical", "--images", "1",
                            "--restarts", "1", "--iters", "2", "--adam-iters", "2", "--tv-iters", "2", "--no-progress"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert study.returncode == 0, study.stderr
    records = (elsewhere / "results" / "deblur.jsonl").read_text().splitlines()
    assert records and all('"spherical"' in r for r in records) and not list(site.rglob("*.jsonl"))


def export_tiny(folder: Path, name: str = "tiny-sg") -> Generator:
    """Exports a tiny StyleGAN2 as ``folder/name.pt`` (with its checksums.json); returns the model."""
    torch.manual_seed(0)
    G = Generator(StyleGAN2Config(resolution=8, z_dim=8, w_dim=8, mapping_layers=1, channels={4: 4, 8: 4},
                                  d_channels={4: 4, 8: 4}))
    src = folder.parent / f"{name}-ema.pt"
    folder.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": "stylegan2", "config": G.cfg.to_dict(), "state_dict": G.state_dict(), "meta": {}}, src)
    zoo.export(src, name, weights_dir=folder)
    return G


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No GAUSSLIB_WEIGHTS; the user cache in ``tmp_path/cache``."""
    monkeypatch.delenv(zoo.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_empty_gausslib_weights_is_an_error_not_the_working_directory(clean_env, monkeypatch):
    monkeypatch.setenv(zoo.ENV_VAR, "")
    monkeypatch.chdir(clean_env)
    export_tiny(clean_env, "tiny-in-cwd")
    for call in (lambda: load("tiny-in-cwd"), zoo.available, lambda: zoo.WEIGHTS_DIR):
        with pytest.raises(ValueError, match="GAUSSLIB_WEIGHTS is set but empty"):
            call()


def test_gausslib_weights_comes_first_and_the_shipped_names_stay_available(clean_env, monkeypatch):
    mine = clean_env / "mine"
    G = export_tiny(mine)
    monkeypatch.setenv(zoo.ENV_VAR, str(mine))
    assert zoo.search_path()[0] == mine and zoo.WEIGHTS_DIR == mine
    assert zoo.resolve("tiny-sg")[0] == mine / "tiny-sg.pt"
    z = torch.randn(1, G.z_dim)
    noise = G.make_noise(1)
    assert torch.equal(load("tiny-sg")(z, noise), G(z, noise))
    assert "stylegan2-phantom64-smooth" in zoo.available()  # still found further down the path


def test_exports_go_to_gausslib_weights_even_before_it_holds_any(clean_env, monkeypatch):
    export_tiny(clean_env / "staging")  # leaves the run's weights in clean_env / "tiny-sg-ema.pt"
    monkeypatch.setenv(zoo.ENV_VAR, str(clean_env / "new"))
    assert zoo.WEIGHTS_DIR == clean_env / "new"
    zoo.export(clean_env / "tiny-sg-ema.pt", "tiny-sg")
    assert zoo.resolve("tiny-sg")[0] == clean_env / "new" / "tiny-sg.pt"


def test_the_user_cache_is_searched(clean_env):
    export_tiny(zoo.user_cache_dir())
    assert zoo.user_cache_dir() == clean_env / "cache" / "gausslib" / "weights"
    assert zoo.resolve("tiny-sg")[0] == zoo.user_cache_dir() / "tiny-sg.pt"


def test_an_unknown_name_lists_every_folder_searched(clean_env):
    with pytest.raises(ValueError) as err:
        load("no-such-model")
    for folder in zoo.search_path():
        assert str(folder) in str(err.value)
    assert "missing" in str(err.value)  # the empty user cache


def test_no_weights_anywhere_says_where_it_looked(clean_env, monkeypatch):
    monkeypatch.setattr(zoo, "_PACKAGE", clean_env / "site-packages" / "gausslib")
    with pytest.raises(FileNotFoundError, match="no generator weights found: searched") as err:
        zoo.weights_home()
    assert str(clean_env / "site-packages" / "gausslib" / "_weights") in str(err.value)
