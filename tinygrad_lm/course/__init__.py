"""The course on top of the engine: the lessons' helpers (`lessons`), running lessons as
notebooks (`notebooks`), the coursework and its grader (`assignments`), and the stand-ins that
keep a student copy running while a task is unwritten (`stand_ins`).

The engine never imports this package.
"""
