#include "support/fhir_validator.h"

#include <fstream>
#include <string>

#include "support/test_support.h"

namespace dancer::testing {

std::filesystem::path fhir_validator_path() {
  return std::filesystem::path(DANCER_SOURCE_DIR) / "tools" / "fhir_validator" / "validate.mjs";
}

::testing::AssertionResult matches_fhir_r4(const nlohmann::json& resource) {
  const auto packages = fhir_validator_path().parent_path() / "node_modules";
  if (!std::filesystem::is_directory(packages)) {
    return ::testing::AssertionFailure()
           << packages
           << " is missing: run scripts/install-deps.sh (npm ci in tools/fhir_validator)";
  }
  std::string text;
  try {
    text = resource.dump();
  } catch (const nlohmann::json::exception& e) {
    return ::testing::AssertionFailure() << "cannot serialise the resource: " << e.what();
  }
  TempDir dir;
  const auto file = dir / "resource.json";
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
    if (!out.flush()) return ::testing::AssertionFailure() << "cannot write " << file;
  }
  const CommandResult r = run_command("node " + shell_quote(fhir_validator_path().string()) + " " +
                                      shell_quote(file.string()) + " 2>&1");
  if (r.exit_code == 0) return ::testing::AssertionSuccess();
  constexpr std::size_t kShown = 2000;
  return ::testing::AssertionFailure() << "validate.mjs exited " << r.exit_code << ":\n"
                                       << r.output << "resource: " << text.substr(0, kShown)
                                       << (text.size() > kShown ? "..." : "");
}

}  // namespace dancer::testing
