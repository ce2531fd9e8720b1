"""Coursework: student copies with solution regions cut out, a grader that runs the teacher's
tests on the code between the markers, the formats courses use, and a corpus of planted bugs
that proves the grader."""

from .build import BuildError, build_student_copy, find_regions
from .catalog import ASSIGNMENTS, TASKS
from .grade import GradeError, grade_submission

__all__ = ["ASSIGNMENTS", "TASKS", "BuildError", "GradeError", "build_student_copy",
           "find_regions", "grade_submission"]
