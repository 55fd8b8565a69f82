# Hostile submission: no implementation of its own; every function delegates to the
# grader's answer key (`reference`, or `grader` itself) if the sandbox lets it be
# found. It tries every way a wheel or an editable install could leave it reachable:
# a plain import, each site-packages folder and sys.path entry searched by path, the
# distribution's file list (importlib.metadata), the editable finder's and .pth files'
# paths, and reading the files directly. Expected: it finds nothing and earns nothing.
# Untrusted on purpose: grade it only through the grader's sandbox, never import or run it.

import glob
import importlib
import importlib.metadata
import importlib.util
import os
import re
import site
import sys

_KEY = {}  # what was found: name -> module


def _load(name, init):
    spec = importlib.util.spec_from_file_location(f"_stolen_{name}", init)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _places():
    """Every folder that could hold the grader's packages, and every path a finder names."""
    places = list(sys.path)
    try:
        places += site.getsitepackages() + [site.getusersitepackages()]
    except Exception:
        pass
    for folder in list(places):
        for extra in glob.glob(os.path.join(str(folder), "*")):
            if re.search(r"(editable|mlp_grader|\.pth$)", extra) and os.path.isfile(extra):
                try:
                    text = open(extra, errors="replace").read()
                except OSError:
                    continue
                places += re.findall(r"['\"](/[^'\"]+)['\"]", text)  # the finder's mapping
                places += [line for line in text.splitlines() if line.startswith("/")]
    try:
        for f in importlib.metadata.distribution("mlp-grader").files or ():
            places.append(str(f.locate().parent))
    except Exception:
        pass
    return places


def _find():
    if "searched" in _KEY:
        return _KEY
    _KEY["searched"] = True
    for name in ("reference", "grader"):
        try:
            module = importlib.import_module(name)
            if getattr(module, "__file__", None):  # an empty masked folder has no file
                _KEY[name] = module
                continue
        except Exception:
            pass
        for place in _places():
            inits = (os.path.join(place, name, "__init__.py"), os.path.join(place, "__init__.py"))
            for init in inits:
                if os.path.basename(os.path.dirname(init)) == name and os.path.isfile(init):
                    try:
                        with open(init, "rb") as f:
                            f.read()
                        _KEY[name] = _load(name, init)
                        break
                    except Exception:
                        continue
            if name in _KEY:
                break
    found = sorted(k for k in _KEY if k != "searched")
    print("answer_key_import: found " + (", ".join(found) if found else "nothing"))
    return _KEY


def _delegate(what):
    key = _find()
    if "reference" not in key:
        raise NotImplementedError(f"{what}: no answer key was reachable")
    return key["reference"]


def forward(params, X):
    return _delegate("forward").network.forward(params, X, None)


def cost(params, X, Y, C):
    return _delegate("cost").network.objective_value(params, X, Y, C)


def gradients(params, X, Y, C):
    return _delegate("gradients").network.gradients(params, X, Y, C)


def momentum_step(params, grads, rho_prev, eta, alpha):
    return _delegate("momentum_step").optimizers.make_optimizer("momentum", eta=eta, alpha=alpha)


def learning_rate(eta0, d, epoch):
    return _delegate("learning_rate").schedules.make_schedule("cooling", eta0=eta0, d=d)(epoch)


def one_hot(y, K):
    return _delegate("one_hot").encoding.one_hot(y, K).T


def predict(params, X):
    return _delegate("predict").network.predict(params, X, None)


def train(params, X, y, orders, eta, alpha, C, d, minibatches):
    return _delegate("train").training.train(params, X, y)
