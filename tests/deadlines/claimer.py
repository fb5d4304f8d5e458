"""A dispatcher process for the exactly-once test: claims and runs due jobs until none are left,
printing the id of every job it ran. Usage: python -m tests.deadlines.claimer DATABASE_URL"""
import sys
import time

from app import create_app
from app.config import TestConfig


def main(url: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url}, config_class=TestConfig)
    from app.db import utcnow
    from app.deadlines.dispatcher import claim_due_jobs, run_job, worker_id
    with app.app_context():
        idle = 0
        while idle < 3:
            claimed = claim_due_jobs(utcnow(), worker_id(), 7, 60)
            if not claimed:
                idle += 1
                time.sleep(0.05)
                continue
            idle = 0
            for job_id in claimed:
                if run_job(job_id, utcnow(), worker_id()) == "done":
                    print(job_id, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
