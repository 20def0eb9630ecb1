#include "render/exports.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "common/json_number.h"
#include "common/strings.h"
#include "gait/gait_kinematics.h"
#include "gait/gait_table.h"

namespace dancer::analysis {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// CSV

// The stride's own fields, then every measure of the catalogue (gait/measures.h) in the order
// docs/results.md lists them. Each key already names its unit (_s, _pct, _body_heights, _m), so
// the keys are the CSV's column names.
constexpr std::array<std::string_view, 5> kStrideIdentity = {"foot", "pass", "start_frame",
                                                             "end_frame", "start_s"};

std::vector<std::string_view> stride_columns(std::span<const StrideMeasure> catalogue) {
  std::vector<std::string_view> columns(kStrideIdentity.begin(), kStrideIdentity.end());
  for (const StrideMeasure& m : catalogue) columns.push_back(m.key);
  return columns;
}

// The shortest text that reads back as the same double (std::to_chars, which ignores the
// locale: always '.').
std::string number_text(double v) {
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
  if (ec != std::errc()) throw ExportError("cannot format a number");
  return std::string(buffer.data(), end);
}

// RFC 4180 section 2: a field with a comma, a double quote or a line break is enclosed in
// double quotes, and its double quotes are doubled.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

// A number of the results JSON: rounded to 1/scale as there (common::json_number), or null.
std::optional<double> contract_number(std::optional<double> v, double scale = 1000) {
  const nlohmann::ordered_json n = common::json_number(v, scale);
  if (n.is_null()) return std::nullopt;
  return n.get<double>();
}

std::string csv_cell(std::optional<double> v) {
  const auto n = contract_number(v);
  return n ? number_text(*n) : "";
}

// ---------------------------------------------------------------------------------------------
// Digests, identifiers, base64 (OpenSSL's libcrypto)

std::array<unsigned char, 20> sha1(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  // EVP_Digest is the one-shot form: it creates and frees its own context.
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha1(), nullptr) != 1 ||
      length != 20) {
    throw std::runtime_error("OpenSSL could not compute a SHA-1 digest");
  }
  std::array<unsigned char, 20> out{};
  std::copy_n(digest.begin(), out.size(), out.begin());
  return out;
}

// The namespace of every name-based UUID the exports mint (a random UUID, fixed forever:
// changing it changes every id of every bundle).
constexpr std::array<unsigned char, 16> kIdNamespace = {
    0x05, 0x31, 0x15, 0x0c, 0xae, 0x4d, 0x48, 0xff, 0x98, 0xe8, 0x66, 0xfc, 0x2f, 0x45, 0x9e, 0xd3};

// RFC 9562 section 5.5 (version 5): SHA-1 of the namespace and the name, with the version and
// variant bits set. The name is "<length of job id>:<job id>/<role>", so no two (job, role)
// pairs share a name.
std::string name_uuid(std::string_view job_id, std::string_view role) {
  std::string name(kIdNamespace.begin(), kIdNamespace.end());
  name += std::to_string(job_id.size());
  name += ':';
  name += job_id;
  name += '/';
  name += role;
  auto bytes = sha1(name);
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x50);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0x0f];
  }
  return out;
}

std::string base64(std::string_view bytes) {
  try {
    return common::base64_encode(bytes);
  } catch (const std::length_error&) {
    throw ExportError("fhir_bundle: the report is too large to embed");
  }
}

std::string base64(const std::array<unsigned char, 20>& digest) {
  return base64(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

// ---------------------------------------------------------------------------------------------
// FHIR formats (R4, section 2.24.0.1 "Primitive Types": the regular expressions given there)

bool matches(const std::string& text, const std::regex& pattern) {
  return std::regex_match(text, pattern);
}

const std::regex& date_time_pattern() {
  static const std::regex pattern(
      R"(([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?)");
  return pattern;
}

const std::regex& instant_pattern() {
  static const std::regex pattern(
      R"(([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))");
  return pattern;
}

const std::regex& code_pattern() {
  static const std::regex pattern(R"([^\s]+( [^\s]+)*)");
  return pattern;
}

const std::regex& uri_pattern() {
  static const std::regex pattern(R"(\S+)");
  return pattern;
}

void check_context(const FhirContext& c) {
  const auto require = [](bool ok, const char* what) {
    if (!ok) throw ExportError(std::string("fhir_bundle: context ") + what);
  };
  require(!c.job_id.empty(), "job_id is empty");
  require(matches(c.video_url, uri_pattern()), "video_url is empty or has white space");
  require(matches(c.video_content_type, code_pattern()),
          "video_content_type is not a FHIR code (e.g. video/mp4)");
  require(matches(c.issued, instant_pattern()),
          "issued is not a FHIR instant (YYYY-MM-DDThh:mm:ss with a time zone)");
  require(c.recorded.empty() || matches(c.recorded, date_time_pattern()),
          "recorded is not a FHIR date or dateTime");
}

// ---------------------------------------------------------------------------------------------
// The metrics (docs/fhir.md, "CodeSystem gait-metrics")

struct Unit {
  std::string_view code;     // UCUM
  std::string_view display;  // Quantity.unit
};
constexpr Unit kStepsPerMinute{"/min", "steps/min"};
constexpr Unit kMetresPerSecond{"m/s", "m/s"};
constexpr Unit kBodyHeightsPerSecond{"{body_height}/s", "body heights/s"};
constexpr Unit kSeconds{"s", "s"};
constexpr Unit kPercent{"%", "%"};
constexpr Unit kMetres{"m", "m"};
constexpr Unit kBodyHeights{"{body_height}", "body heights"};
constexpr Unit kDegrees{"deg", "deg"};

// A value per side: a mean over that side's strides, with the strides it rests on.
struct SideMetric {
  std::string_view code;
  std::string_view display;
  std::string_view key;  // a measure of the catalogue, or a peak (gait_kinematics.h kPeakNames)
  Unit unit;
};

// A side's value: its mean as the results JSON gives it, and the strides it rests on.
struct SideValue {
  std::optional<double> mean;
  std::optional<std::int64_t> n;
};

constexpr std::array<SideMetric, 9> kPeakMetrics = {{
    {"hip-flexion-max", "Peak hip flexion", "hip_flexion_max", kDegrees},
    {"hip-extension-max", "Peak hip extension", "hip_extension_max", kDegrees},
    {"hip-rom", "Hip range of motion", "hip_rom", kDegrees},
    {"knee-flexion-loading-max", "Peak knee flexion in loading response",
     "knee_flexion_loading_max", kDegrees},
    {"knee-flexion-swing-max", "Peak knee flexion in swing", "knee_flexion_swing_max", kDegrees},
    {"knee-rom", "Knee range of motion", "knee_rom", kDegrees},
    {"ankle-dorsiflexion-stance-max", "Peak ankle dorsiflexion in stance",
     "ankle_dorsiflexion_stance_max", kDegrees},
    {"ankle-plantarflexion-max", "Peak ankle plantarflexion", "ankle_plantarflexion_max", kDegrees},
    {"ankle-rom", "Ankle range of motion", "ankle_rom", kDegrees},
}};

struct SymmetryMetric {
  std::string_view code;
  std::string_view display;
  std::optional<double> GaitTable::*index;
  std::string_view measure;  // the measure whose side means it compares
};
constexpr std::array<SymmetryMetric, 3> kSymmetryMetrics = {{
    {"step-time-symmetry", "Step time symmetry index", &GaitTable::symmetry_step_time,
     "step_time_s"},
    {"swing-time-symmetry", "Swing time symmetry index", &GaitTable::symmetry_swing, "swing_s"},
    {"step-length-symmetry", "Step length symmetry index", &GaitTable::symmetry_step_length,
     "step_length_body_heights"},
}};

constexpr int kMinStrides = kMinStridesForMean;

constexpr std::string_view kUcum = "http://unitsofmeasure.org";
constexpr std::string_view kDataAbsentReason =
    "http://terminology.hl7.org/CodeSystem/data-absent-reason";

json coding(std::string_view system, std::string_view code, std::string_view display) {
  return {{"system", system}, {"code", code}, {"display", display}};
}

json codeable(std::string_view system, std::string_view code, std::string_view display) {
  return {{"coding", json::array({coding(system, code, display)})}, {"text", display}};
}

json metric_concept(std::string_view code, std::string_view display) {
  return codeable(kGaitMetricsSystem, code, display);
}

json quantity(double value, const Unit& unit) {
  return {{"value", value}, {"unit", unit.display}, {"system", kUcum}, {"code", unit.code}};
}

// "unknown: The value is expected to exist but is not known" (FHIR R4 data-absent-reason): the
// analysis measured the metric but the recording did not support a value.
json absent(const std::string& why) {
  return {{"coding", json::array({coding(kDataAbsentReason, "unknown", "Unknown")})},
          {"text", "Not measured: " + why}};
}

class BundleBuilder {
 public:
  BundleBuilder(const GaitResult& result, const FhirContext& context)
      : r_(result), t_(reported_table(result)), warnings_(quality_warnings(result)), c_(context) {}

  json build() {
    const std::string report = urn("diagnostic-report");
    const std::string media = urn("media");
    const std::string device = urn("device");
    media_ref_ = media;
    device_ref_ = device;

    std::vector<json> observations;
    add_scalars(observations);
    // Every exported measure of the catalogue a reader is shown: lengths in metres with a
    // subject height, else in body heights (a different quantity, so a different code: a
    // receiver never mixes the two).
    const bool metres = has_height();
    for (const StrideMeasure& sm : t_.measures) {
      if (sm.fhir_code.empty() || !shown_with_height(sm, metres)) continue;
      const SideMetric m{sm.fhir_code, sm.fhir_display, sm.key, Unit{sm.unit, sm.unit_text}};
      const bool length =
          sm.scale == MeasureScale::kMetres || sm.scale == MeasureScale::kBodyHeights;
      observations.push_back(side_observation(
          m, [&](const SideSummary& side) { return measure_of(side, m.key); },
          length ? length_note() : ""));
    }
    for (const SymmetryMetric& m : kSymmetryMetrics) {
      observations.push_back(symmetry_observation(m));
    }
    for (const SideMetric& m : kPeakMetrics) {
      observations.push_back(side_observation(
          m, [&](const SideKinematics& side) { return peak_of(side, m.key); },
          std::string(kKinematicsLimits)));
    }

    json entries = json::array();
    json results = json::array();
    for (const json& o : observations) results.push_back({{"reference", full_url(o)}});
    entries.push_back(entry(report, diagnostic_report(report, results, media)));
    for (json& o : observations) {
      std::string url = full_url(o);  // before the move: arguments have no evaluation order
      entries.push_back(entry(url, std::move(o)));
    }
    entries.push_back(entry(media, media_resource(media)));
    entries.push_back(entry(device, device_resource(device)));

    return {{"resourceType", "Bundle"},
            {"id", name_uuid(c_.job_id, "bundle")},
            {"type", "collection"},
            {"timestamp", c_.issued},
            {"entry", std::move(entries)}};
  }

 private:
  std::string urn(std::string_view role) const { return "urn:uuid:" + name_uuid(c_.job_id, role); }
  static std::string full_url(const json& resource) {
    return "urn:uuid:" + resource.at("id").get<std::string>();
  }
  static json entry(const std::string& full_url, json resource) {
    return {{"fullUrl", full_url}, {"resource", std::move(resource)}};
  }
  static std::string id_of(const std::string& urn) { return urn.substr(9); }  // "urn:uuid:"
  static json subject() { return {{"reference", kFhirSubjectPlaceholder}}; }

  bool has_height() const { return contract_number(t_.subject_height_m).has_value(); }

  const std::vector<std::string>& warnings() const { return warnings_; }

  bool warned(std::string_view name) const {
    return std::find(warnings_.begin(), warnings_.end(), name) != warnings_.end();
  }

  // A side's mean of a measure of the catalogue, and its strides.
  static SideValue measure_of(const SideSummary& side, std::string_view key) {
    const SideStat& st = side.at(key);
    return {contract_number(st.mean), st.n};
  }

  // A side's mean of a peak (kinematics.peaks), and its strides; none without the angles.
  static SideValue peak_of(const SideKinematics& side, std::string_view key) {
    const auto it = std::find(kPeakNames.begin(), kPeakNames.end(), key);
    const auto i = static_cast<std::size_t>(it - kPeakNames.begin());
    if (it == kPeakNames.end() || i >= side.peaks.size()) return {};
    return {contract_number(side.peaks[i].mean, 10), side.peaks[i].n};
  }

  // Why nothing at all was measured, when the scene is the reason (docs/results.md, Warnings).
  std::optional<std::string> scene_reason() const {
    if (warned("no_person")) return "nobody was seen long enough to analyse (no_person)";
    if (warned("front_view")) {
      return "the person walks toward or away from the camera; a side view is needed "
             "(front_view)";
    }
    if (warned("no_walking_pass")) {
      return "no stretch of steady walking across the image (no_walking_pass)";
    }
    return std::nullopt;
  }

  std::string warnings_note() const {
    const auto names = warnings();
    if (names.empty()) return "";
    std::string out = "Quality warnings of the analysis: ";
    for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
    return out + ".";
  }

  std::string length_note() const {
    const std::string scaling(kLengthScaling);
    if (const auto height = contract_number(t_.subject_height_m)) {
      return "Subject height given with the video: " + number_text(*height) +
             " m. Scaling: " + scaling;
    }
    return "No subject height was given, so lengths are in body heights. Scaling: " + scaling;
  }

  json observation(std::string_view code, std::string_view display) const {
    json o = {{"resourceType", "Observation"},
              {"id", name_uuid(c_.job_id, "observation/" + std::string(code))},
              {"status", "final"},
              {"category", json::array({codeable("http://terminology.hl7.org/CodeSystem/"
                                                 "observation-category",
                                                 "procedure", "Procedure")})},
              {"code", metric_concept(code, display)},
              {"subject", subject()}};
    if (!c_.recorded.empty()) o["effectiveDateTime"] = c_.recorded;
    o["issued"] = c_.issued;
    return o;
  }

  // The elements after the value: notes, method, device, the video it came from.
  void finish(json& o, const std::vector<std::string>& notes) const {
    json list = json::array();
    for (const std::string& n : notes) {
      if (!n.empty()) list.push_back({{"text", n}});
    }
    if (!list.empty()) o["note"] = std::move(list);
    json method = codeable(kGaitMethodsSystem, "video-pose-2d", "2D video pose estimation");
    method["text"] = "2D video pose estimation (BlazePose), side view";
    o["method"] = std::move(method);
    o["device"] = {{"reference", device_ref_}};
    o["derivedFrom"] = json::array({{{"reference", media_ref_}}});
  }

  static json count_component(std::string_view code, std::string_view display, std::int64_t count) {
    return {{"code", metric_concept(code, display)}, {"valueInteger", count}};
  }

  // A value of the analysis as valueQuantity, or a dataAbsentReason saying why it is null.
  static void set_value(json& target, const std::optional<double>& value, const Unit& unit,
                        const std::string& why_absent) {
    if (value) {
      target["valueQuantity"] = quantity(*value, unit);
    } else {
      target["dataAbsentReason"] = absent(why_absent);
    }
  }

  void add_scalars(std::vector<json>& out) const {
    {
      json o = observation("cadence", "Cadence");
      const auto value = contract_number(t_.cadence_steps_per_min, 10);
      set_value(o, value, kStepsPerMinute, scene_reason().value_or("no step was measured"));
      o["component"] = json::array({count_component("steps", "Steps", t_.cadence_steps)});
      finish(o, {value ? "" : warnings_note()});
      out.push_back(std::move(o));
    }
    {
      const bool metres = has_height();
      json o = metres ? observation("walking-speed", "Walking speed")
                      : observation("walking-speed-body-heights", "Walking speed in body heights");
      const auto value = contract_number(metres ? t_.speed_m_per_s : t_.speed_body_heights_per_s);
      set_value(o, value, metres ? kMetresPerSecond : kBodyHeightsPerSecond,
                scene_reason().value_or("no stride was measured"));
      o["component"] = json::array({count_component("passes", "Walking passes", t_.speed_passes)});
      finish(o, {length_note(), value ? "" : warnings_note()});
      out.push_back(std::move(o));
    }
  }

  // No value of its own (the analysis gives none over both sides): a component per side with
  // that side's mean, and one per side with the strides that mean rests on. `value_of` reads a
  // side's (the table's SideSummary or the angles' SideKinematics).
  template <typename ValueOf>
  json side_observation(const SideMetric& m, ValueOf value_of, const std::string& note) const {
    json o = observation(m.code, m.display);
    json components = json::array();
    json counts = json::array();
    bool all_values = true;
    for (const std::string_view side : {std::string_view("left"), std::string_view("right")}) {
      const bool left = side == "left";
      SideValue value;
      if constexpr (std::is_invocable_v<ValueOf, const SideSummary&>) {
        value = value_of(left ? t_.left : t_.right);
      } else {
        value = value_of(left ? r_.angles.left : r_.angles.right);
      }
      const std::optional<double>& mean = value.mean;
      const std::optional<std::int64_t>& n = value.n;
      const std::string side_name(side);
      json component = {{"code", metric_concept(std::string(m.code) + "-" + side_name,
                                                std::string(m.display) + ", " + side_name)}};
      std::string why;
      if (const auto scene = scene_reason()) {
        why = *scene;
      } else if (n && *n < kMinStrides) {
        why = std::to_string(*n) + (*n == 1 ? " stride" : " strides") +
              " on this side; a mean needs at least " + std::to_string(kMinStrides);
      } else {
        why = "the analysis gives no value";
      }
      set_value(component, mean, m.unit, why);
      all_values = all_values && mean.has_value();
      components.push_back(std::move(component));
      if (n) {
        counts.push_back(count_component("strides-" + side_name, "Strides, " + side_name, *n));
      }
    }
    for (json& c : counts) components.push_back(std::move(c));
    o["component"] = std::move(components);
    finish(o, {note, all_values ? "" : warnings_note()});
    return o;
  }

  json symmetry_observation(const SymmetryMetric& m) const {
    json o = observation(m.code, m.display);
    const auto value = contract_number(t_.*m.index, 10);
    const std::optional<std::int64_t> n_left = t_.left.at(m.measure).n;
    const std::optional<std::int64_t> n_right = t_.right.at(m.measure).n;
    std::string why =
        scene_reason().value_or("the index needs the mean of each side, each from at least " +
                                std::to_string(kMinStrides) + " strides");
    set_value(o, value, kPercent, why);
    json components = json::array();
    if (n_left) components.push_back(count_component("strides-left", "Strides, left", *n_left));
    if (n_right) {
      components.push_back(count_component("strides-right", "Strides, right", *n_right));
    }
    if (!components.empty()) o["component"] = std::move(components);
    finish(o, {"Robinson et al. 1987: 100 x |L - R| / (0.5 x (L + R)) on the side means; 0 is "
               "symmetric.",
               value ? "" : warnings_note()});
    return o;
  }

  json diagnostic_report(const std::string& urn, json results, const std::string& media) const {
    json r = {{"resourceType", "DiagnosticReport"},
              {"id", id_of(urn)},
              {"identifier", json::array({{{"system", kJobIdSystem}, {"value", c_.job_id}}})},
              {"status", "final"},
              {"category", json::array({codeable("http://terminology.hl7.org/CodeSystem/v2-0074",
                                                 "PT", "Physical Therapy")})},
              {"code", metric_concept("gait-analysis", "Video gait analysis")},
              {"subject", subject()}};
    if (!c_.recorded.empty()) r["effectiveDateTime"] = c_.recorded;
    r["issued"] = c_.issued;
    r["result"] = std::move(results);
    r["media"] = json::array(
        {{{"comment", "The analysed walking video"}, {"link", {{"reference", media}}}}});
    if (!c_.report_html.empty()) {
      r["presentedForm"] = json::array({{{"contentType", "text/html"},
                                         {"data", base64(c_.report_html)},
                                         {"size", c_.report_html.size()},
                                         {"hash", base64(sha1(c_.report_html))},
                                         {"title", "Gait analysis report"},
                                         {"creation", c_.issued}}});
    }
    return r;
  }

  json media_resource(const std::string& urn) const {
    json m = {
        {"resourceType", "Media"},
        {"id", id_of(urn)},
        {"status", "completed"},
        {"type", codeable("http://terminology.hl7.org/CodeSystem/media-type", "video", "Video")},
        {"subject", subject()}};
    if (!c_.recorded.empty()) m["createdDateTime"] = c_.recorded;
    // positiveInt elements: only what the analysis measured as more than zero.
    const auto positive = [&](const char* element, std::int64_t v) {
      if (v > 0) m[element] = v;
    };
    positive("height", r_.video.info.height);
    positive("width", r_.video.info.width);
    positive("frames", r_.gait.frames);
    if (const auto seconds = contract_number(r_.video.info.duration_s)) m["duration"] = *seconds;
    m["content"] = {
        {"contentType", c_.video_content_type}, {"url", c_.video_url}, {"title", "Walking video"}};
    return m;
  }

  json device_resource(const std::string& urn) const {
    const std::string name = !c_.analyzer_name.empty() ? c_.analyzer_name : r_.analyzer.name;
    const std::string version =
        !c_.analyzer_version.empty() ? c_.analyzer_version : r_.analyzer.version;
    json d = {{"resourceType", "Device"},
              {"id", id_of(urn)},
              {"deviceName",
               json::array({{{"name", "dancer-analysis " + name}, {"type", "model-name"}}})},
              {"type", {{"text", "Gait analysis software"}}}};
    json versions = json::array();
    if (!version.empty()) versions.push_back({{"value", version}});
    const std::string& model = r_.analyzer.pose_model;
    if (!model.empty()) {
      const std::string& source = r_.analyzer.model_source;
      versions.push_back({{"type", {{"text", "pose model"}}},
                          {"value", source.empty() ? model : model + " (" + source + ")"}});
    }
    if (!versions.empty()) d["version"] = std::move(versions);
    return d;
  }

  const GaitResult& r_;
  const GaitTable t_;                        // as reported: what the failing checks withhold null
  const std::vector<std::string> warnings_;  // quality.warnings
  const FhirContext& c_;
  std::string media_ref_;
  std::string device_ref_;
};

}  // namespace

std::string strides_csv(const GaitResult& result) {
  const GaitTable table = reported_table(result);
  std::string out = "stride";
  for (const std::string_view column : stride_columns(table.measures)) {
    out += ',';
    out += column;
  }
  out += "\r\n";
  std::size_t index = 0;
  for (const Stride& s : table.strides) {
    if (s.measures.size() != table.measures.size()) {
      throw ExportError("strides_csv: a stride's measures are not the table's catalogue");
    }
    out += std::to_string(index++);
    out += ',' + csv_field(to_string(s.foot));
    out += ',' + std::to_string(s.pass);
    out += ',' + std::to_string(s.start_frame);
    out += ',' + std::to_string(s.end_frame);
    out += ',' + csv_cell(s.start_s);
    for (const std::optional<double>& v : s.measures) out += ',' + csv_cell(v);
    out += "\r\n";
  }
  return out;
}

nlohmann::json fhir_bundle(const GaitResult& result, const FhirContext& context) {
  if (result.analyzer.name != "pose-gait") {
    throw ExportError("fhir_bundle: only a pose-gait analysis can be exported");
  }
  check_context(context);
  return BundleBuilder(result, context).build();
}

}  // namespace dancer::analysis
