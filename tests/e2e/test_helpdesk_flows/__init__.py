"""The ten process flows walked against the running system over real HTTP (a package named
like the module it was, so that it runs at the same place among the end-to-end tests)."""
