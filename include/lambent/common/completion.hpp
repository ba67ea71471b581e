#pragma once
/// A move-only, type-erased completion handler that always completes by posting to the handler's
/// associated executor (never inline), so completing it from inside other handlers is safe.
/// (Boost 1.81's any_completion_handler re-wraps itself when copied from an lvalue; this avoids that.)

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <utility>

namespace lambent {

template <class... Args>
class completion {
public:
    completion() = default;
    template <class Handler>
    explicit completion(Handler h) : impl_(std::make_unique<holder<Handler>>(std::move(h))) {}

    explicit operator bool() const { return impl_ != nullptr; }

    /// Posts the handler with `args`; the completion is empty afterwards. No-op when already empty.
    void operator()(Args... args) {
        if (!impl_) return;
        auto impl = std::move(impl_);
        impl->post(std::move(args)...);
    }

private:
    struct base {
        virtual ~base() = default;
        virtual void post(Args... args) = 0;
    };
    template <class Handler>
    struct holder final : base {
        explicit holder(Handler h) : handler(std::move(h)) {}
        void post(Args... args) override {
            auto ex = boost::asio::get_associated_executor(handler);
            boost::asio::post(ex, [h = std::move(handler), ... a = std::move(args)]() mutable { std::move(h)(std::move(a)...); });
        }
        Handler handler;
    };
    std::unique_ptr<base> impl_;
};

}  // namespace lambent
