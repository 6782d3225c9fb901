# app_a (public: /hello, POST /jobs) as a Nomad service job. It finds app_b through
# Nomad's service registry (the template below), never by a fixed address; the
# autoscaler scales it by the scaling policy. Variables come from a -var-file the
# deployment writes (roles/app_jobs); by hand:
#   nomad job run -var image=localhost:5000/stackyard/app-a:<tag> app-a.nomad.hcl
variable "image" {
  type        = string
  description = "The app_a image, name:tag (a new tag is a rolling update)."
}
variable "datacenters" {
  type    = list(string)
  default = ["*"]
}
variable "count" {
  type        = number
  default     = 2
  description = "Allocations at submission; also the autoscaler's minimum."
}
variable "max_count" {
  type    = number
  default = 4
}
variable "cpu_target" {
  type        = number
  default     = 70
  description = "Per cent of the allocated CPU the autoscaler keeps the average at."
}
variable "cpu" {
  type    = number
  default = 100
}
variable "memory" {
  type    = number
  default = 256
}
variable "update" {
  type = object({
    min_healthy_time  = string
    healthy_deadline  = string
    progress_deadline = string
  })
  default = {
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
  }
}

job "app-a" {
  type        = "service"
  datacenters = var.datacenters

  update {
    max_parallel      = 1
    canary            = 1
    auto_promote      = true
    auto_revert       = true
    health_check      = "checks"
    min_healthy_time  = var.update.min_healthy_time
    healthy_deadline  = var.update.healthy_deadline
    progress_deadline = var.update.progress_deadline
  }

  group "app-a" {
    count = var.count

    network {
      port "http" {
        to = 5000
      }
    }

    restart {
      attempts = 2
      interval = "5m"
      delay    = "5s"
      mode     = "fail"
    }

    # Horizontal scaling by the Nomad Autoscaler: average CPU use, as a share of what the
    # allocations reserve (nomad-apm), kept at cpu_target per cent.
    scaling {
      enabled = true
      min     = var.count
      max     = var.max_count

      policy {
        evaluation_interval = "10s"
        cooldown            = "30s"

        check "cpu" {
          source = "nomad-apm"
          query  = "avg_cpu-allocated"

          strategy "target-value" {
            target = var.cpu_target
          }
        }
      }
    }

    service {
      name     = "app-a"
      provider = "nomad"
      port     = "http"
      tags     = ["density", "public"]

      check {
        name     = "health"
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "2s"

        check_restart {
          limit = 3
          grace = "15s"
        }
      }
    }

    task "app-a" {
      driver = "docker"

      config {
        image           = var.image
        ports           = ["http"]
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/tmp"
          tmpfs_options {
            size = 67108864
          }
        }
      }

      # One app_b instance per app_a allocation, chosen by hashing the allocation's id over
      # the registered app_b instances (so app_a allocations spread over them); re-rendered,
      # and the task restarted, when that instance changes.
      template {
        data        = <<-EOT
          {{- range nomadService 1 (env "NOMAD_ALLOC_ID") "app-b" }}
          DENSITY_APP_B_URL=http://{{ .Address }}:{{ .Port }}
          {{- end }}
        EOT
        destination = "local/app-b.env"
        env         = true
        change_mode = "restart"
        splay       = "10s"
      }

      env {
        DENSITY_WORKERS = "2"
      }

      resources {
        cpu    = var.cpu
        memory = var.memory
      }

      kill_timeout = "20s"
    }
  }
}
