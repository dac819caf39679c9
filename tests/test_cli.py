def test_python_dash_m_proxgan_is_the_command_line():
    """``python -m proxgan`` (no console script needed, e.g. on a device with ``PYTHONPATH=src``)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "proxgan", "--help"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("Usage: proxgan [OPTIONS] COMMAND")
