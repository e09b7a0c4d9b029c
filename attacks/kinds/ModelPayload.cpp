// Trojaning a copy of the benign model with attacks/models/inject_pickle.py.
#include <fstream>

#include "KindSupport.h"
#include "armorbench/base/Subprocess.h"

namespace armorbench::attacks {
namespace fs = std::filesystem;

void ModelPayload::inject(const ModelArtifacts& model, const fs::path& run_dir,
                          WorkloadSpec& workload, const std::string& gadget,
                          const std::vector<std::string>& gadget_args) const {
  const fs::path model_dir = run_dir / "model";
  fs::create_directories(model_dir);
  fs::copy_file(model.dir / "model.json", model_dir / "model.json",
                fs::copy_options::overwrite_existing);
  // The pickle the payload is spliced into: the MLP's torch.save zip or plain pickle, as
  // declared; a joblib file for the joblib loader; another format's pickled estimator or booster.
  std::string container = format_;
  if (workload.loader == Loader::kJoblib)
    container = "joblib";
  else if (model.format != "mlp" && container == "pt")
    container = "pickle";
  const fs::path base =
      model.dir / (container == "pt"       ? std::string("model.pt")
                   : container == "joblib" ? model.file_name_for(Loader::kJoblib)
                                           : model.file_name_for(Loader::kPickle));
  if (!fs::is_regular_file(base))
    throw input_error("this attack splices its payload into the model's pickle, and a " +
                      model.format + " model has no " + container + " file to splice it into");
  // The server reads the file its loader expects: an attacker ships the file under that name
  // (a pickle named model.ubj for the xgboost loader, which then refuses it).
  const std::string served = model.file_name_for(workload.loader);
  std::vector<std::string> argv{"/usr/bin/python3",
                                (context_.data_dir / "attacks/models/inject_pickle.py").string(),
                                "--base",
                                base.string(),
                                "--out",
                                (model_dir / served).string(),
                                "--format",
                                container,
                                "--gadget",
                                gadget};
  argv.insert(argv.end(), gadget_args.begin(), gadget_args.end());
  const CommandResult result = run_command(argv, std::chrono::minutes(2));
  if (result.timed_out || !result.status.exited_ok())
    throw harness_error("injecting the payload failed (" + result.status.describe() +
                        "): " + result.err);
  workload.model_dir = model_dir;
  workload.model_file = served;
}

void ModelPayload::inject_script(const ModelArtifacts& model, const fs::path& run_dir,
                                 WorkloadSpec& workload, const std::string& script,
                                 const nlohmann::json& params) const {
  const fs::path params_file = run_dir / "payload-params.json";
  std::ofstream(params_file) << params.dump();
  inject(model, run_dir, workload, "builtins.exec",
         {"--source-file", (context_.data_dir / "attacks/payloads" / script).string(), "--params",
          "@" + params_file.string()});
}

}  // namespace armorbench::attacks
