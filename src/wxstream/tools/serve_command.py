"""The ``wxstream serve`` command line that runs a service with given settings in a
child process: what the swap benchmark and the fault tests start, and SIGKILL.
"""

from __future__ import annotations

import sys

from wxstream.settings import ServeSettings


def serve_command(settings: ServeSettings, ray_address: str | None, *extra: str) -> list[str]:
    """``python -m wxstream serve`` with the flags of ``settings`` (then ``extra``).

    The child joins the Ray cluster at ``ray_address`` (``None``: it starts its own) and
    runs without the dashboard.
    """
    kafka = settings.kafka
    args = [
        sys.executable,
        "-m",
        "wxstream",
        "serve",
        f"--bootstrap-servers={kafka.bootstrap_servers}",
        f"--features-topic={kafka.features_topic}",
        f"--predictions-topic={kafka.predictions_topic}",
        f"--dlq-topic={kafka.dlq_topic}",
        f"--anomalies-topic={kafka.anomalies_topic}",
        f"--control-topic={kafka.control_topic}",
        f"--qc-policy={settings.qc_policy}",
        f"--model-storage-path={settings.model.storage_path}",
        f"--model-name={settings.model.model_name}",
        f"--group-id={settings.group_id}",
        f"--guarantee={settings.guarantee}",
        f"--transactional-id={settings.transactional_id}",
        f"--num-actors={settings.ray.num_actors}",
        f"--batch-size={settings.batch_size}",
        f"--max-wait-ms={settings.max_wait_ms}",
        f"--restore-rewind-messages={settings.restore_rewind_messages}",
        # the child serves as an in-process service with these settings would
        "--online-calibration" if settings.online_calibration else "--no-online-calibration",
        "--no-dashboard",
        *(["--no-gpu"] if not settings.ray.use_gpu else []),
    ]
    if ray_address:
        args.append(f"--ray-address={ray_address}")
    return [*args, *extra]
