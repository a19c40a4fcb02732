"""Property-based tests (hypothesis) keep no example database and write nothing into the checkout: a run
depends only on the code and on the seed hypothesis prints when a property fails."""
import atexit
import shutil
import tempfile

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

_HOME = tempfile.mkdtemp(prefix="hypothesis-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
set_hypothesis_home_dir(_HOME)
settings.register_profile("hyperv_backup", database=None, deadline=None)
settings.load_profile("hyperv_backup")
