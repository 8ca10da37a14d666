"""The service: scheduled crawls and chat exports (APScheduler 3, job store in the database).

``Service`` runs the scheduler; ``scheduler.jobs`` holds the job functions
(``scheduler.jobs:crawl_site``, ``scheduler.jobs:export_chat``); ``scheduler.pipeline.after_crawl``
indexes, checks and seals a finished crawl.
"""

from scheduler.cron import ScheduleError, parse_cron

__all__ = ["ScheduleError", "parse_cron"]
