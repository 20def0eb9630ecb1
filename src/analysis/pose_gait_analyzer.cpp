#include "analysis/pose_gait_analyzer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/json_number.h"
#include "common/time.h"
#include "gait/gait_result.h"
#include "gait/recording_quality.h"
#include "pose/pose_model.h"
#include "render/clinical_report.h"
#include "render/exports.h"
#include "render/overlay.h"

namespace dancer::analysis {
namespace {

class PoseGaitAnalyzer final : public Analyzer {
 public:
  explicit PoseGaitAnalyzer(PoseGaitConfig config) : config_(std::move(config)) {}
  std::string name() const override { return kPoseGaitAnalyzerName; }
  std::string version() const override { return kPoseGaitAnalyzerVersion; }
  AnalysisResult analyze(const AnalysisRequest& request) override;

 private:
  // What the tracking pass keeps of the video.
  struct Tracked {
    PoseVideoSummary summary;
    std::vector<PoseFrame> poses;       // in the picture's pixels
    SkeletonTrack skeleton;             // for the verification video and the key frames
    RecordingQualityBuilder recording;  // the named checks, on the decoded frames themselves
  };
  // The phases of analyze, in order: pose -> gait -> render.
  void track(const AnalysisRequest& request, Tracked& tracked) const;
  GaitResult measure(const AnalysisRequest& request, Tracked& tracked,
                     std::chrono::steady_clock::time_point started) const;
  void render(const AnalysisRequest& request, GaitResult& measured, const SkeletonTrack& skeleton,
              AnalysisResult& result) const;

  PoseGaitConfig config_;
};

void PoseGaitAnalyzer::track(const AnalysisRequest& request, Tracked& tracked) const {
  PoseVideoOptions pose = config_.pose;
  pose.limits = request.limits;
  pose.frame_hook = [&](const cv::Mat& rgb, const PoseFrame& frame) {
    tracked.recording.add(rgb, frame);
  };
  try {
    tracked.summary = track_video_poses(request.video, pose, [&](const PoseFrame& frame) {
      if (request.cancel != nullptr && request.cancel->load()) {
        throw AnalysisError(AnalysisErrorCode::kCancelled, "analysis cancelled by shutdown");
      }
      tracked.poses.push_back(frame);
      tracked.skeleton.add(frame);
    });
  } catch (const PoseModelError& e) {
    // A missing or unreadable model is this machine's fault, not the video's.
    throw AnalysisError(AnalysisErrorCode::kInternal, e.what());
  }
  if (!(tracked.summary.info.fps > 0)) {
    throw AnalysisError(AnalysisErrorCode::kInvalidInput, "the video has no frame rate");
  }
}

GaitResult PoseGaitAnalyzer::measure(const AnalysisRequest& request, Tracked& tracked,
                                     std::chrono::steady_clock::time_point started) const {
  const media::VideoStreamInfo& info = tracked.summary.info;
  GaitResult r;
  r.analyzer = {kPoseGaitAnalyzerName, kPoseGaitAnalyzerVersion,
                "blazepose-" + std::string(to_string(config_.pose.variant)), kPoseModelSource};
  r.video = tracked.summary;
  r.kinematics_config = config_.kinematics;
  // The camera's motion, measured once for the camera_motion check and for the keypoints:
  // events, speed and lengths are read in the scene's frame when the camera moved and could be
  // followed (a still camera's keypoints are left as they are).
  r.camera = tracked.recording.camera_motion();
  r.camera_judgement = judge_camera(r.camera);
  KeypointGaitBuilder events(config_.events);
  KinematicsBuilder kinematics(config_.kinematics);
  for (const PoseFrame& frame :
       scene_poses(std::move(tracked.poses), r.camera, r.camera_judgement)) {
    events.add(frame);
    kinematics.add(frame);
  }
  r.gait = events.finish(info.fps);
  r.table = build_gait_table(r.gait, request.subject_height_m, config_.table);
  r.angles = kinematics.finish(r.gait, r.table, info.fps);

  r.warnings = r.gait.warnings;
  // The table's per-side warnings add to the gait's only where there was a pass to measure.
  if (!r.gait.passes.empty()) {
    r.warnings.insert(r.warnings.end(), r.table.warnings.begin(), r.table.warnings.end());
  }
  if (info.fps < config_.min_fps) r.warnings.emplace_back("low_frame_rate");
  // Frames whose clock went back (a walk concatenated with itself) were not analysed again.
  if (r.video.non_monotonic_frames > 0) r.warnings.emplace_back("non_monotonic_timestamps");
  // A high-speed recording is analysed at the frame-rate ceiling (quality.stream_fps).
  if (r.video.sampled_out_frames > 0) r.warnings.emplace_back("frame_rate_sampled");
  r.warnings.insert(r.warnings.end(), request.warnings.begin(), request.warnings.end());
  r.checks = tracked.recording.finish({info.fps, info.width, info.height, info.duration_s,
                                       static_cast<int>(r.table.strides.size())});
  r.processing_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

AnalysisResult PoseGaitAnalyzer::analyze(const AnalysisRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  Tracked tracked;
  track(request, tracked);
  GaitResult measured = measure(request, tracked, started);
  AnalysisResult result;
  render(request, measured, tracked.skeleton, result);
  return result;
}

// The render pass and the writers: the verification video and the key frames, the results
// object (after the render pass, which may add its warning), the report, the strides CSV and
// the FHIR bundle.
void PoseGaitAnalyzer::render(const AnalysisRequest& request, GaitResult& measured,
                              const SkeletonTrack& skeleton, AnalysisResult& result) const {
  const KeypointGait& gait = measured.gait;
  const GaitKinematics& angles = measured.angles;
  const PoseVideoSummary& summary = measured.video;
  DirectoryOutputs directory(request.report_dir);
  OutputFiles* outputs = request.outputs != nullptr    ? request.outputs
                         : !request.report_dir.empty() ? &directory
                                                       : nullptr;
  // report.html whenever there is somewhere to write; the other artifacts when asked for.
  const auto wanted = [&](const ArtifactSpec& spec) {
    if (outputs == nullptr || !outputs->accepts(spec.name)) return false;
    return &spec == &kReportArtifact ||
           std::find(request.artifacts.begin(), request.artifacts.end(), spec.name) !=
               request.artifacts.end();
  };
  const auto written = [&](const ArtifactSpec& spec) {
    result.outputs_written.emplace_back(spec.name);
    if (outputs == &directory) result.artifacts.push_back(request.report_dir / spec.name);
  };

  // The render pass: the video again, with the skeleton and the events drawn, encoded as the
  // verification video and captured at initial contacts as the report's key frames.
  std::vector<KeyFrameImage> key_frames;
  const std::optional<int> overlay_fd =
      wanted(kOverlayArtifact) ? outputs->descriptor(kOverlayArtifact.name) : std::nullopt;
  std::vector<std::int64_t> contacts;
  for (const FootEvent& e : gait.events) {
    if (e.type == FootEventType::kInitialContact) contacts.push_back(e.frame);
  }
  // At most config_.report_key_frames of them, spread over the walk.
  std::vector<std::int64_t> key_frame_indices;
  const auto key_count = std::min<std::size_t>(contacts.size(), config_.report_key_frames);
  for (std::size_t i = 0; i < key_count; ++i) {
    key_frame_indices.push_back(contacts[i * contacts.size() / key_count]);
  }
  if (overlay_fd || (wanted(kReportArtifact) && !key_frame_indices.empty())) {
    OverlayOptions overlay;
    overlay.left_model_side = left_model_sides(gait.passes, summary.frames);
    overlay.key_frames = key_frame_indices;
    overlay.cancel = request.cancel;
    overlay.decoder_threads = config_.pose.decoder_threads;
    overlay.encoder_threads = config_.pose.threads;
    overlay.limits = request.limits;
    try {
      const OverlayResult rendered =
          render_overlay(request.video, skeleton, gait.events, overlay, overlay_fd.value_or(-1));
      key_frames = rendered.key_frames;
      if (overlay_fd) written(kOverlayArtifact);
    } catch (const RenderCancelled& e) {
      throw AnalysisError(AnalysisErrorCode::kCancelled, e.what());
    } catch (const media::MediaError& e) {
      // Writing failed (a full disk): this machine's fault, tried again later.
      if (e.code() == media::MediaErrorCode::kIo) {
        throw AnalysisError(AnalysisErrorCode::kInternal,
                            std::string("verification video: ") + e.what());
      }
      // The file itself cannot be drawn on (the encoder refuses its frames, the second
      // decoding fails): the measurements stand, without the video and the key frames. An
      // unfinished overlay.mp4 is not listed, so the service removes it.
      key_frames.clear();
      measured.render_warnings.emplace_back("overlay_failed");
      if (outputs == &directory) {
        std::error_code ec;
        std::filesystem::remove(request.report_dir / kOverlayArtifact.name, ec);
      }
    }
  }

  result.analysis = to_json(measured);

  // One processing time for the report's header and the bundle's `issued`.
  const auto processed_at = std::chrono::system_clock::now();
  std::string report_html;
  if (wanted(kReportArtifact)) {
    ReportSignals signals;
    signals.time_s = angles.times_s;
    for (std::size_t side = 0; side < 2; ++side) {
      for (const auto& v : angles.heel_ahead[side]) {
        signals.heel_ahead[side].push_back(v ? *v : std::nan(""));
      }
    }
    ReportContext context;
    context.object_name =
        request.job.object_name.empty() ? request.video.name() : request.job.object_name;
    context.processed_at = processed_at;
    if (!request.job.job_id.empty()) context.job_id = request.job.job_id;
    report_html = render_clinical_report(measured, request.metadata, context, key_frames, signals);
    outputs->write(kReportArtifact.name, report_html);
    written(kReportArtifact);
    if (outputs == &directory) result.report_path = request.report_dir / kReportArtifact.name;
  }
  if (wanted(kStridesArtifact)) {
    outputs->write(kStridesArtifact.name, strides_csv(measured));
    written(kStridesArtifact);
  }
  if (wanted(kFhirArtifact)) {
    FhirContext fhir;
    fhir.job_id = request.job.job_id.empty() ? request.job.object_name : request.job.job_id;
    if (fhir.job_id.empty()) fhir.job_id = request.video.name();
    fhir.video_url = request.job.video_url.empty() ? "file://" + request.video.path().string()
                                                   : request.job.video_url;
    // The upload's Content-Type is the uploader's text: printable ASCII only, else unknown.
    const std::string& type = request.job.video_content_type;
    const bool printable = !type.empty() && std::all_of(type.begin(), type.end(), [](char c) {
      return c > 0x20 && c < 0x7f;
    });
    fhir.video_content_type = printable ? type : "application/octet-stream";
    fhir.report_html = report_html;
    fhir.recorded = recording_date_from_metadata(request.metadata).value_or("");
    fhir.issued = common::format_iso8601(processed_at);
    nlohmann::json bundle;
    try {
      bundle = fhir_bundle(measured, fhir);
    } catch (const ExportError&) {
      // The exporter checks what FHIR accepts; a recording time or content type from the
      // upload that fails (a month 13, a parameter with a tab) is left out.
      fhir.recorded.clear();
      fhir.video_content_type = "application/octet-stream";
      bundle = fhir_bundle(measured, fhir);
    }
    outputs->write(kFhirArtifact.name, bundle.dump(1));
    written(kFhirArtifact);
  }
}

}  // namespace

std::unique_ptr<Analyzer> make_pose_gait_analyzer(PoseGaitConfig config) {
  return std::make_unique<PoseGaitAnalyzer>(std::move(config));
}

}  // namespace dancer::analysis
