import sys

# jsonschema (imported by nbformat) imports rfc3987_syntax only to check the "iri" format,
# which no notebook schema uses; that import builds ~35 parsers and costs 1.3 s in every
# grading worker (python-jsonschema/jsonschema#1428). Without it the format goes unchecked.
sys.modules.setdefault("rfc3987_syntax", None)

from autograder.cli import main  # noqa: E402

sys.exit(main())
