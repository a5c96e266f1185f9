"""``ds01 demo``: the contract's worked examples on built-in simulated servers."""

from __future__ import annotations


def register(sub, common, json_flag) -> None:
    """``json_flag`` is not used: the demo prints text for people only."""
    p = sub.add_parser(
        "demo", parents=[common], help="replay the worked examples on a simulated server",
        description="Replay the allocation contract's worked examples on built-in simulated "
        "servers with the built-in example config, in a temporary state directory (no files "
        "written elsewhere, no root needed), printing each decision and the final status.")
    p.add_argument("--keep", metavar="DIR", default=None,
                   help="keep the state directories under DIR instead of a temporary one")
    p.set_defaults(handler=cmd_demo)


def _describe(result, templates) -> str:
    from ds01.cli.render import decision_text, refusal_text

    if hasattr(result, "released"):
        if result.released:
            return f"released {result.container} ({', '.join(result.devices)})"
        return f"{result.container}: nothing to release"
    if result.ok:
        return decision_text(result)
    return "REFUSED " + refusal_text(result, templates)


def cmd_demo(args) -> int:
    import tempfile
    from pathlib import Path

    from ds01.cli.output import out
    from ds01.monitor.dashboard import render_text
    from ds01.service.demo import SCENARIOS, error_templates, final_status, run_step

    templates = error_templates()
    with tempfile.TemporaryDirectory(prefix="ds01-demo-") as tmp:
        base = Path(args.keep or tmp)
        for i, sc in enumerate(SCENARIOS, 1):
            state = base / f"scenario-{i}"
            out("#" * 70)
            out(f"# {sc.title} (server: {sc.server})")
            out(f"# {sc.story}")
            out("#" * 70)
            last_now = None
            for step in sc.steps:
                result = run_step(sc.server, state, step)
                last_now = step.now or last_now
                when = f" [at {step.now}]" if step.now else ""
                if step.action == "status":
                    out(f"$ ds01 gpu status{when}")
                    out(render_text(result))
                    continue
                flags = "".join(f" --{k.replace('_', '-')}" for k, v in step.opts.items() if v)
                out(f"$ ds01 gpu {step.action} {' '.join(step.args)}{flags}{when}")
                for line in _describe(result, templates).splitlines():
                    out(f"  {line}")
            out("")
            out("Final status:")
            out(render_text(final_status(sc.server, state, last_now)))
            out("")
    return 0
