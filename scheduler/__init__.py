"""The service: scheduled crawls and chat exports (APScheduler 3, job store in the database).

``Service`` runs the scheduler; ``scheduler.jobs`` holds the job functions
(``scheduler.jobs:crawl_site``, ``scheduler.jobs:export_chat``), which call the service layer
(``bewaar.services``) like every other face; ``scheduler.schedules`` stores the schedules.
With ``task_queue = "postgres"`` the jobs go to the task queue (``scheduler.tasks``,
procrastinate in PostgreSQL) and `bewaar worker` runs them on any machine.
"""

from scheduler.cron import ScheduleError, parse_cron

__all__ = ["ScheduleError", "parse_cron"]
