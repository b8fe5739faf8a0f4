"""Site and profile files for installers: read with positions, checked, built into models.

Everything an edge box runs from comes through here, and every mistake is reported as
FILE:LINE:COL with a fix, all at once.
"""

from edge.config.loader import default_profiles_dir, load_site
from edge.config.model import CloudLink, EdgeSettings, SiteConfig, SiteInfo
from edge.config.profiles import load_profile, load_profiles
from yamlcheck.problems import ConfigError, Problem

__all__ = [
    "CloudLink",
    "ConfigError",
    "EdgeSettings",
    "Problem",
    "SiteConfig",
    "SiteInfo",
    "default_profiles_dir",
    "load_profile",
    "load_profiles",
    "load_site",
]
