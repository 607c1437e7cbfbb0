"""splitgym subpackage."""
