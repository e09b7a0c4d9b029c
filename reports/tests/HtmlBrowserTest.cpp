// The HTML report in a real browser: Debian's Chromium, headless, loads report.html from disk
// with the network off. What it must show: no console message at all (the report logs nothing,
// so any line is an error, a blocked load or a script), one grid cell per case run in the DOM
// Chromium built, and charts that paint (the screenshot holds the chart colours, not a blank page).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>

#include "SampleResults.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/reports/Html.h"

namespace armorbench::reports {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kChromium = "/usr/bin/chromium";

class Browser : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not a skip: this machine kind runs Chromium (ci/setup.sh installs Debian's package).
    ASSERT_TRUE(fs::exists(kChromium))
        << kChromium << " is absent: install Debian's chromium package (ci/setup.sh does)";
    dir_ = fs::temp_directory_path() / ("ab-browser-" + random_hex(6));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // Headless Chromium as HOST-NOTES says to start it here: no sandbox (root), no GPU, no
  // background networking, a fresh profile. Console messages go to stderr.
  CommandResult chromium(const std::vector<std::string>& extra, const fs::path& page) {
    std::vector<std::string> argv{kChromium,
                                  "--headless",
                                  "--no-sandbox",
                                  "--disable-gpu",
                                  "--disable-quic",
                                  "--no-first-run",
                                  "--disable-background-networking",
                                  "--disable-component-update",
                                  "--disable-sync",
                                  "--hide-scrollbars",
                                  "--enable-logging=stderr",
                                  "--v=0",
                                  "--user-data-dir=" + (dir_ / "profile").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("file://" + page.string());
    return run_command(argv, std::chrono::seconds(120));
  }

  static std::vector<std::string> console_lines(const std::string& err) {
    std::vector<std::string> out;
    std::istringstream in(err);
    std::string line;
    while (std::getline(in, line))
      if (line.find(":CONSOLE") != std::string::npos) out.push_back(line);
    return out;
  }

  fs::path dir_;
};

// An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) as RGB triples.
struct Image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
};

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) |
         (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

Image decode_png(const std::string& file) {
  Image image;
  if (file.size() < 8 || file.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return image;
  std::string idat;
  int color_type = -1, depth = 0, interlace = 0;
  for (std::size_t at = 8; at + 8 <= file.size();) {
    const std::uint32_t length = be32(file, at);
    const std::string type = file.substr(at + 4, 4);
    if (at + 12 + length > file.size()) break;
    if (type == "IHDR") {
      image.width = be32(file, at + 8);
      image.height = be32(file, at + 12);
      depth = std::uint8_t(file[at + 16]);
      color_type = std::uint8_t(file[at + 17]);
      interlace = std::uint8_t(file[at + 20]);
    } else if (type == "IDAT") {
      idat += file.substr(at + 8, length);
    }
    at += 12 + length;
  }
  const int channels = color_type == 6 ? 4 : color_type == 2 ? 3 : 0;
  if (channels == 0 || depth != 8 || interlace != 0) return Image{};
  const std::size_t stride = std::size_t(image.width) * channels;
  std::vector<std::uint8_t> raw((stride + 1) * image.height);
  uLongf size = raw.size();
  if (uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
      Z_OK)
    return Image{};
  std::vector<std::uint8_t> pixels(stride * image.height), previous(stride, 0);
  for (std::uint32_t y = 0; y < image.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    const std::uint8_t* in = &raw[y * (stride + 1) + 1];
    std::uint8_t* out = &pixels[y * stride];
    for (std::size_t x = 0; x < stride; ++x) {
      const int a = x >= std::size_t(channels) ? out[x - channels] : 0;
      const int b = previous[x];
      const int c = x >= std::size_t(channels) ? previous[x - channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          break;
      }
      out[x] = std::uint8_t(in[x] + predicted);
    }
    std::copy(out, out + stride, previous.begin());
  }
  image.rgb.reserve(std::size_t(image.width) * image.height * 3);
  for (std::size_t i = 0; i < pixels.size(); i += channels)
    image.rgb.insert(image.rgb.end(), &pixels[i], &pixels[i] + 3);
  return image;
}

std::size_t pixels_of(const Image& image, std::uint32_t rgb) {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 2 < image.rgb.size(); i += 3)
    n += image.rgb[i] == (rgb >> 16) && image.rgb[i + 1] == ((rgb >> 8) & 0xff) &&
         image.rgb[i + 2] == (rgb & 0xff);
  return n;
}

TEST_F(Browser, ConsoleCheckCatchesAPageThatErrs) {
  // The negative control: the same check does see a script error, so silence below means none.
  const fs::path page = dir_ / "bad.html";
  std::ofstream(page)
      << "<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>";
  const CommandResult result = chromium({"--dump-dom"}, page);
  ASSERT_TRUE(result.status.exited_ok()) << result.err;
  EXPECT_FALSE(console_lines(result.err).empty()) << result.err;
}

TEST_F(Browser, ReportLoadsCleanlyWithACellPerCaseRunAndPaintedCharts) {
  const json results = samples::sample_results();
  const fs::path page = dir_ / "report.html";
  std::ofstream(page) << html_report(results);

  const CommandResult dom = chromium({"--dump-dom"}, page);
  ASSERT_TRUE(dom.status.exited_ok()) << dom.err;
  EXPECT_EQ(console_lines(dom.err), std::vector<std::string>{});
  const std::regex cell("<td class=\"cell [^\"]*\" data-run=\"");
  const auto cells = std::distance(std::sregex_iterator(dom.out.begin(), dom.out.end(), cell),
                                   std::sregex_iterator());
  EXPECT_EQ(cells, static_cast<long>(results["cases"].size()));
  const std::regex svg("<svg ");
  EXPECT_EQ(std::distance(std::sregex_iterator(dom.out.begin(), dom.out.end(), svg),
                          std::sregex_iterator()),
            4);

  const fs::path shot = dir_ / "report.png";
  const CommandResult paint =
      chromium({"--screenshot=" + shot.string(), "--window-size=1280,5200"}, page);
  ASSERT_TRUE(paint.status.exited_ok()) << paint.err;
  EXPECT_EQ(console_lines(paint.err), std::vector<std::string>{});
  const Image image = decode_png(read_whole_file(shot));
  ASSERT_EQ(image.width, 1280u);
  ASSERT_GT(image.height, 0u);
  std::size_t ink = 0;
  for (std::size_t i = 0; i + 2 < image.rgb.size(); i += 3)
    ink += image.rgb[i] < 240 || image.rgb[i + 1] < 240 || image.rgb[i + 2] < 240;
  EXPECT_GT(ink, image.rgb.size() / 3 / 50) << "the page is (nearly) blank";
  // Colours only the charts use, painted solid: the start-and-boot marks (runtime create, server
  // ready, guest boot: a disc of radius 4.5 each, and its range), the rate bars and the
  // block-mode estimate of the overhead plot.
  EXPECT_GT(pixels_of(image, 0x5c6bc0), 100u) << "runtime-create marks (3 targets)";
  EXPECT_GT(pixels_of(image, 0x6d4c41), 100u) << "server-ready marks (3 targets)";
  EXPECT_GT(pixels_of(image, 0x00897b), 40u) << "guest-boot mark (kata)";
  EXPECT_GT(pixels_of(image, 0x1e88e5), 1000u) << "block-rate bars (runc 0.50)";
  EXPECT_GT(pixels_of(image, 0x3a6ea5), 40u) << "block-mode marks";
}

}  // namespace
}  // namespace armorbench::reports
