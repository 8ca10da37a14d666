"""Sealed archive packages: BagIt 1.0 + MDTO sidecars + CMS seal + RFC 3161 time-stamp + chain.

    from archive.package import build_package, PackageInput, seal_run, verify_package, init_keys
"""

from archive.package.build import PackageError, PackageInput, PackageResult, build_package
from archive.package.keys import init_keys
from archive.package.organisation import OrganisationNotConfiguredError
from archive.package.seal_run import AlreadySealedError, seal_run
from archive.package.verify import NotAPackageError, VerifyReport, verify_package

__all__ = [
    "AlreadySealedError",
    "NotAPackageError",
    "OrganisationNotConfiguredError",
    "PackageError",
    "PackageInput",
    "PackageResult",
    "VerifyReport",
    "build_package",
    "init_keys",
    "seal_run",
    "verify_package",
]
