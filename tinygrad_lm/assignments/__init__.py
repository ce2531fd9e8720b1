"""Coursework: student copies with solution regions cut out, and a grader built on pytest."""

from .build import BuildError, build_student_copy, find_regions
from .catalog import ASSIGNMENTS, TASKS
from .grade import grade

__all__ = ["ASSIGNMENTS", "TASKS", "BuildError", "build_student_copy", "find_regions", "grade"]
