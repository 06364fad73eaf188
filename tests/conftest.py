"""Test-wide setup: Qt runs headless (must happen before any QApplication exists)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
