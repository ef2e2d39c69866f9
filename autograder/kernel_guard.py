"""Runs INSIDE a student's kernel: puts back what student code tampered with before each test.

The grader sends this file's source to the kernel before the first cell and calls
``install``; the grader never imports it. Before every locked cell (test cells included)
the grader calls ``restore``, which

* puts back functions, classes and modules that student code replaced in any module loaded
  before the student's first cell (``numpy.allclose = lambda *a, **k: True``,
  ``builtins.isinstance``, ``sys.modules['numpy']``), methods patched onto library classes,
  and a library function's ``__code__`` or ``__defaults__``;
* puts back every name that locked cells defined (a redefined helper such as
  ``assert_close``, ``np = FakeNumpy()``, a replaced data split);
* drops input/AST transformers and event callbacks that student code added to IPython,
  instance attributes it overrode on the shell, kernel and session, its signal handlers,
  timers and ``gc`` callbacks;
* refuses to vouch for the test when a thread started by student code is still running;

and prints a token with what it restored, which the grader checks: without the token (the
guard was disabled or broke) the test that follows earns nothing. An audit hook blocks the
tools that reach behind these checks: ``gc.get_referrers`` and friends, ``sys.settrace``,
``ctypes`` pointer casts into the interpreter, raw threads, further audit hooks and swapping
a library module's class.

This raises the bar far above plain nbgrader, where student code and tests share one
interpreter with no checks at all. It is not a proof against a student who studies this file.
"""


def install(token, preimports, trusted_modules):
    import builtins
    import gc
    import json
    import signal
    import sys
    import threading
    import types

    # Local names, so that student code replacing a builtin cannot reach into the guard.
    isinstance, callable, getattr, setattr, delattr, vars, dict, list, set, id, len, str, any, zip = (
        builtins.isinstance, builtins.callable, builtins.getattr, builtins.setattr,
        builtins.delattr, builtins.vars, builtins.dict, builtins.list, builtins.set, builtins.id,
        builtins.len, builtins.str, builtins.any, builtins.zip)
    print, sorted, type, dumps = builtins.print, builtins.sorted, builtins.type, json.dumps
    sys_modules, Thread, ModuleType, FunctionType = sys.modules, threading.Thread, types.ModuleType, types.FunctionType
    missing = object()
    shell = get_ipython()  # noqa: F821 - a builtin in every IPython kernel

    for name in preimports:
        try:
            __import__(name)
        except BaseException:  # a missing or broken module is the notebook's own problem
            pass

    modules = {}  # name -> (module, copy of its namespace)
    known = set()  # ids of the library's own functions and classes
    attr_log = {}  # id -> (object, {attribute: original value}) for patched library objects
    locked_names = {}

    def is_tamperable(value):
        return callable(value) or isinstance(value, ModuleType)

    def same(a, b):
        return len(a) == len(b) and not any(x is not y for x, y in zip(a, b))

    def contains(items, item):
        return any(x is item for x in items)

    def owner_of(obj):
        target = getattr(obj, "__func__", obj)
        owner = getattr(target, "__module__", None)
        if not isinstance(owner, str):
            owner = getattr(type(obj), "__module__", "")
        return owner if isinstance(owner, str) else ""

    def trusted(obj):
        return owner_of(obj).split(".")[0] in trusted_modules

    def student_made(value):
        """Worth reporting: a replacement from the notebook rather than a library's own rebinding
        (torch wraps ``torch.manual_seed`` when it imports ``torch._dynamo``, for example).
        Library rebindings are put back all the same; only the report leaves them out."""
        owner = owner_of(value)
        return value is missing or owner == "__main__" or owner not in modules

    def snapshot_modules():
        for name, module in list(sys_modules.items()):
            if name in modules or name == "__main__" or not isinstance(module, ModuleType):
                continue
            try:
                namespace = dict(vars(module))
            except TypeError:
                continue
            modules[name] = (module, namespace)
            known.add(id(module))
            for value in namespace.values():
                if isinstance(value, (type, FunctionType)):
                    known.add(id(value))
                    if isinstance(value, type):
                        for member in vars(value).values():
                            if isinstance(member, (FunctionType, type)):
                                known.add(id(member))

    snapshot_modules()

    def audit(event, args):
        if event in ("object.__setattr__", "object.__delattr__"):
            obj, attr = args[0], args[1]
            if id(obj) not in known:
                return
            if isinstance(obj, ModuleType):
                raise RuntimeError("changing a library module's class is not allowed while "
                                   "the autograder runs this notebook")
            log = attr_log.setdefault(id(obj), (obj, {}))[1]
            if attr not in log:
                log[attr] = (vars(obj).get(attr, missing) if isinstance(obj, type)
                             else getattr(obj, attr, missing))
        elif event == "_thread.start_new_thread":
            if not isinstance(getattr(args[0], "__self__", None), Thread):
                raise RuntimeError("raw threads are not allowed while the autograder runs "
                                   "this notebook; use threading.Thread")
        elif event in ("gc.get_referrers", "gc.get_referents", "gc.get_objects",
                       "sys.settrace", "sys.setprofile", "sys.addaudithook", "ctypes.cdata",
                       "ctypes.cdata/buffer") or (
                event == "ctypes.dlsym" and str(args[-1]).lstrip("_").startswith("Py")):
            raise RuntimeError(f"{event} is not allowed while the autograder runs this notebook")

    sys.addaudithook(audit)

    def hook_lists():
        return {"input_transformers_cleanup": shell.input_transformers_cleanup,
                "input_transformers_post": shell.input_transformers_post,
                "ast_transformers": shell.ast_transformers, "gc.callbacks": gc.callbacks,
                "sys.meta_path": sys.meta_path, "sys.path_hooks": sys.path_hooks,
                **{f"events.{k}": v for k, v in shell.events.callbacks.items()}}

    hooks = {name: list(items) for name, items in hook_lists().items()}
    owners = [shell, getattr(shell, "kernel", None), getattr(shell, "displayhook", None),
              getattr(shell, "display_pub", None), getattr(shell, "compile", None),
              getattr(getattr(shell, "kernel", None), "session", None)]
    owners = [(o, dict(vars(o))) for o in owners if o is not None and hasattr(o, "__dict__")]
    sys_objects = {k: getattr(sys, k) for k in ("stdout", "stderr", "displayhook", "excepthook")}
    signals = {}
    for signum in signal.valid_signals():
        try:
            signals[signum] = signal.getsignal(signum)
        except (ValueError, OSError):
            pass
    threads = set(id(t) for t in threading.enumerate())

    def restore():
        changed = []
        gc.collect(0)  # run young garbage's finalizers now, not in the middle of a test
        if sys.modules is not sys_modules:
            sys.modules = sys_modules
            changed.append("sys.modules")
        for name, (module, snap) in modules.items():
            if sys_modules.get(name, module) is not module:
                sys_modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
            current = vars(module)
            for key, value in snap.items():
                now = current.get(key, missing)
                if now is not value and is_tamperable(value):
                    current[key] = value
                    if student_made(now):
                        changed.append(f"{name}.{key}")
            if "__getattr__" in snap:  # a lazy loader: an added attribute can shadow a real one
                for key in [k for k in current if k not in snap]:
                    value = current[key]
                    if not (isinstance(value, ModuleType)
                            and sys_modules.get(f"{name}.{key}") is value):
                        del current[key]
                        changed.append(f"{name}.{key}")
        for obj, log in list(attr_log.values()):
            for attr, value in log.items():
                if value is missing:
                    try:
                        delattr(obj, attr)
                    except (AttributeError, TypeError):
                        pass
                else:
                    setattr(obj, attr, value)
                changed.append(f"{owner_of(obj)}.{getattr(obj, '__qualname__', '?')}.{attr}")
        attr_log.clear()
        for name, items in hook_lists().items():
            keep = hooks.get(name, [])
            if not same(items, keep):
                added = [i for i in items if not contains(keep, i)]
                items[:] = keep + [i for i in added if trusted(i)]
                if len(items) != len(keep) + len(added):
                    changed.append(name)
        for obj, snap in owners:
            current = vars(obj)
            for key in list(current):
                value = current[key]
                if key in snap and snap[key] is value:
                    continue
                if key in snap and is_tamperable(snap[key]):
                    current[key] = snap[key]
                    changed.append(f"{type(obj).__name__}.{key}")
                elif key not in snap and callable(value):
                    del current[key]
                    changed.append(f"{type(obj).__name__}.{key}")
        for key, value in sys_objects.items():
            if getattr(sys, key) is not value:
                setattr(sys, key, value)
                changed.append(f"sys.{key}")
        if threading.current_thread() is threading.main_thread():
            for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
                if signal.getitimer(which) != (0.0, 0.0):
                    signal.setitimer(which, 0)
                    changed.append("signal timer")
            for signum, handler in signals.items():
                if signal.getsignal(signum) is not handler:
                    signal.signal(signum, handler)
                    changed.append(f"signal handler {signum}")
        user_ns = shell.user_ns
        for key, value in locked_names.items():
            if user_ns.get(key, missing) is not value:
                user_ns[key] = value
                changed.append(key)
        snapshot_modules()
        return changed

    def foreign_threads():
        found = []
        for t in threading.enumerate():
            if id(t) in threads or not t.is_alive():
                continue
            work = getattr(t, "_target", None) or getattr(t, "function", None)
            if work is None:
                work = getattr(type(t), "run", None)
            if not trusted(work):
                found.append(t.name)
        return found

    def report(payload):
        print(token + dumps(payload), flush=True)

    class Guard(ModuleType):
        def restore(self):
            changed = restore()
            running = foreign_threads()
            report({"restored": changed, "threads": running})

        def capture(self, names):
            """Remember what a locked cell just defined: it is the instructor's, not the student's."""
            for key in names:
                value = shell.user_ns.get(key, missing)
                if value is not missing:
                    locked_names[key] = value
            report({"captured": sorted(locked_names)})

    sys_modules["__w2s_guard__"] = Guard("__w2s_guard__")
    report({"installed": len(modules)})
