"""Entry point for RQ workers: `python worker.py [--burst]` (same as `robocall worker`)."""

from robocall.worker_main import worker

if __name__ == "__main__":
    worker()
