"""benchmarks/aarch64_wheels.py: its pure functions only (no network, no pip download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, load_script

aw = load_script(ROOT / "benchmarks" / "aarch64_wheels.py")


def _names(reqs: list[str]) -> set[str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return {canonicalize_name(Requirement(r).name) for r in reqs}


def test_runtime_requirements_of_the_real_pyproject() -> None:
    reqs = aw.runtime_requirements(ROOT / "pyproject.toml")
    names = _names(reqs)
    assert {"onnxruntime", "tokenizers"} <= names
    assert not names & {"torch", "transformers", "optimum-onnx", "onnx", "pytest"}
    assert aw.runtime_requirements() == reqs  # the default is the repo's pyproject


def test_runtime_requirements_ignores_extras(tmp_path: Path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "x"\ndependencies = ["a>=1", "b; python_version < \'3.12\'"]\n'
                 '[project.optional-dependencies]\nexport = ["torch"]\n')
    assert aw.runtime_requirements(p) == ["a>=1", "b; python_version < '3.12'"]
    (tmp_path / "empty.toml").write_text('[project]\nname = "x"\n')
    assert aw.runtime_requirements(tmp_path / "empty.toml") == []


@pytest.mark.parametrize(("filename", "expected", "kind"), [
    ("onnxruntime-1.20.1-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
     ("onnxruntime", "1.20.1", "cp311", "cp311", "manylinux_2_27_aarch64.manylinux_2_28_aarch64"), "aarch64"),
    ("numpy-2.1.3-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
     ("numpy", "2.1.3", "cp311", "cp311", "manylinux_2_17_aarch64.manylinux2014_aarch64"), "aarch64"),
    ("paho_mqtt-2.1.0-py3-none-any.whl", ("paho-mqtt", "2.1.0", "py3", "none", "any"), "pure"),
    ("tokenizers-0.21.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
     ("tokenizers", "0.21.0", "cp39", "abi3", "manylinux_2_17_aarch64.manylinux2014_aarch64"), "aarch64"),
    ("rapidfuzz-3.10.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
     ("rapidfuzz", "3.10.1", "cp311", "cp311", "manylinux_2_17_x86_64.manylinux2014_x86_64"), "other"),
    ("PyYAML-6.0.2-cp311-cp311-musllinux_1_1_x86_64.whl",
     ("pyyaml", "6.0.2", "cp311", "cp311", "musllinux_1_1_x86_64"), "other"),
    ("foo-1.0-1-py2.py3-none-any.whl", ("foo", "1.0", "py2.py3", "none", "any"), "pure"),
])
def test_parse_wheel_name_and_classify(filename: str, expected: tuple[str, ...], kind: str) -> None:
    info = aw.parse_wheel_name(filename)
    assert (info["name"], info["version"], info["python"], info["abi"], info["platform"]) == expected
    assert aw.classify(info["platform"]) == kind


@pytest.mark.parametrize(("tag", "kind"), [
    ("linux_aarch64", "aarch64"), ("manylinux_2_28_aarch64", "aarch64"), ("any", "pure"),
    ("win_amd64", "other"), ("macosx_11_0_arm64", "other"), ("linux_armv7l", "other"),
])
def test_classify(tag: str, kind: str) -> None:
    assert aw.classify(tag) == kind


@pytest.mark.parametrize("bad", ["numpy-2.1.3.tar.gz", "numpy-2.1.3-cp311.whl"])
def test_parse_wheel_name_rejects_non_wheels(bad: str) -> None:
    with pytest.raises(ValueError):
        aw.parse_wheel_name(bad)


def test_table_and_platforms() -> None:
    rows = [{"file": f, **aw.parse_wheel_name(f), "kind": k, "size_mb": mb} for f, k, mb in [
        ("paho_mqtt-2.1.0-py3-none-any.whl", "pure", 0.07),
        ("numpy-2.1.3-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "aarch64", 13.9)]]
    lines = aw.format_table(rows).splitlines()
    assert lines[0].split() == ["project", "version", "tag", "MB", "kind"]
    assert "pure-python" in lines[2] and "0.07" in lines[2]
    assert "aarch64-native" in lines[3] and "13.90" in lines[3]
    assert {"manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64", "linux_aarch64"} \
        <= set(aw.PLATFORMS)
    assert all(aw.classify(p) == "aarch64" for p in aw.PLATFORMS)


def test_bad_python_version_is_rejected() -> None:
    with pytest.raises(SystemExit) as e:
        aw.main(["--python", "311"])
    assert e.value.code == 2
