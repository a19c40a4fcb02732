# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of the collection shares; each module adds its check_mode and diff_mode."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  platform:
    description: Target OS and family.
    support: full
    platforms: windows
"""
